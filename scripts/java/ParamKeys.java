// Lists every key UPDATE_BROKER_CONFIG can set on the broker of the jars on the classpath, the way
// the broker itself finds them: Configuration.update runs MixAll.properties2Object over
// BrokerConfig, NettyServerConfig, NettyClientConfig and MessageStoreConfig (BrokerController's
// constructor registers exactly these four in 4.9.6 and 5.x), and properties2Object turns every
// public `setXxx(T)` into the key `xxx`, parsing the value by T's simple name; other types are skipped.
//
// Output (run by scripts/param-keys.sh) into the file named by the first argument, since loading
// the 5.x classes makes their logging print to stdout: one "key<TAB>type<TAB>classes" line per key, sorted;
// type is int, long, double, float, boolean or String, or "-" when properties2Object cannot set it.
import java.lang.reflect.Method;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

public class ParamKeys {
    static final String[] CLASSES = {
        "org.apache.rocketmq.common.BrokerConfig",
        "org.apache.rocketmq.remoting.netty.NettyServerConfig",
        "org.apache.rocketmq.remoting.netty.NettyClientConfig",
        "org.apache.rocketmq.store.config.MessageStoreConfig",
    };
    static final Set<String> SETTABLE = Set.of("int", "Integer", "long", "Long", "double", "Double",
        "boolean", "Boolean", "float", "Float", "String");

    public static void main(String[] args) throws Exception {
        Map<String, String> types = new TreeMap<>();
        Map<String, Set<String>> owners = new TreeMap<>();
        for (String name : CLASSES) {
            Class<?> cls = Class.forName(name);
            for (Method m : cls.getMethods()) {
                String mn = m.getName();
                if (!mn.startsWith("set") || mn.length() < 4 || m.getParameterCount() == 0) continue;
                String key = mn.substring(3, 4).toLowerCase() + mn.substring(4);
                String t = m.getParameterTypes()[0].getSimpleName();
                t = SETTABLE.contains(t) ? t.replace("Integer", "int").replace("Long", "long")
                    .replace("Double", "double").replace("Boolean", "boolean").replace("Float", "float") : "-";
                // Overloads (e.g. setMetricsExporterType(int) and (String)): properties2Object tries
                // each, so a value any of them parses is taken. All settable types are listed,
                // sorted, joined by '|' (getMethods() has no fixed order).
                String before = types.get(key);
                if (before == null || before.equals("-")) {
                    types.put(key, t);
                } else if (!t.equals("-") && !before.contains(t)) {
                    TreeSet<String> all = new TreeSet<>(java.util.Arrays.asList(before.split("\\|")));
                    all.add(t);
                    types.put(key, String.join("|", all));
                }
                owners.computeIfAbsent(key, k -> new TreeSet<>()).add(cls.getSimpleName());
            }
        }
        StringBuilder out = new StringBuilder();
        for (Map.Entry<String, String> e : types.entrySet()) {
            out.append(e.getKey()).append('\t').append(e.getValue()).append('\t')
               .append(String.join(",", owners.get(e.getKey()))).append('\n');
        }
        java.nio.file.Files.writeString(java.nio.file.Path.of(args[0]), out);
    }
}
