// Prints ACL signing test vectors computed by the official RocketMQ Java client code
// (AclClientRPCHook.doBeforeRequest, the path every 4.9.6 client request takes), as JSON lines.
// Run: java -cp "$(scripts/rocketmq.sh classpath)" scripts/java/AclVector.java > proto/acl-vectors.jsonl
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.TreeMap;
import org.apache.rocketmq.acl.common.AclClientRPCHook;
import org.apache.rocketmq.acl.common.SessionCredentials;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;

public class AclVector {
    static String q(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20 || c > 0x7e) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    static void vector(String name, int code, String[][] ext, byte[] body, String ak, String sk, String token) {
        RemotingCommand req = RemotingCommand.createRequestCommand(code, null);
        for (String[] kv : ext) req.addExtField(kv[0], kv[1]);
        req.setBody(body);
        SessionCredentials creds = token == null ? new SessionCredentials(ak, sk) : new SessionCredentials(ak, sk, token);
        new AclClientRPCHook(creds).doBeforeRequest("127.0.0.1:10911", req);
        StringBuilder out = new StringBuilder("{\"name\":" + q(name) + ",\"code\":" + code);
        out.append(",\"accessKey\":").append(q(ak)).append(",\"secretKey\":").append(q(sk));
        out.append(",\"securityToken\":").append(token == null ? "null" : q(token));
        out.append(",\"extFieldsIn\":{");
        for (int i = 0; i < ext.length; i++) out.append(i > 0 ? "," : "").append(q(ext[i][0])).append(':').append(q(ext[i][1]));
        out.append("},\"bodyBase64\":").append(body == null ? "null" : q(Base64.getEncoder().encodeToString(body)));
        out.append(",\"extFieldsOut\":{");
        int i = 0;
        for (Map.Entry<String, String> e : new TreeMap<>(req.getExtFields()).entrySet())
            out.append(i++ > 0 ? "," : "").append(q(e.getKey())).append(':').append(q(e.getValue()));
        out.append("}}");
        System.out.println(out);
    }

    public static void main(String[] args) {
        byte[] props = "brokerPermission=4\nmaxMessageSize=5242880\n".getBytes(StandardCharsets.UTF_8);
        vector("get-broker-config-no-fields", 26, new String[][] {}, null, "RocketMQ", "12345678", null);
        vector("get-consume-stats", 208, new String[][] {{"consumerGroup", "group-a"}, {"topic", "TopicTest"}},
            null, "sidecarReader", "readerSecret-7b2d0a", null);
        vector("update-broker-config-with-body", 25, new String[][] {}, props, "sidecarAdmin", "adminSecret-4f1c9e", null);
        vector("security-token", 30, new String[][] {{"topic", "T"}, {"queueId", "3"}}, null, "stsKey123", "stsSecret456",
            "token-abc");
        vector("non-ascii-and-binary-body", 34, new String[][] {{"zeta", "\u00e9t\u00e9"}, {"Alpha", "A"}, {"alpha", "a"}},
            new byte[] {0, (byte) 0xff, 10, 13, 'x'}, "unicode\u00fcser", "s\u00e9cret\u4e2d\u6587", null);
    }
}
