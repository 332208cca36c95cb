//! TLS fixtures: certificates made at test time with openssl (a CA, the brokers' certificate for
//! 127.0.0.1, a client certificate, an untrusted CA, an expired certificate), and a name server and
//! brokers in `tls.server.mode=enforcing` at this binary's RocketMQ version: one with ACL, one that
//! requires a client certificate (mutual TLS).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{free_port, scratch, start_broker_at, start_namesrv_at, version, BrokerSpec, Proc};

pub struct Certs {
    pub dir: PathBuf,
}

impl Certs {
    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// Makes every file: ca.pem, server.pem / server.key, client.pem / client.key, other-ca.pem,
    /// other-client and other-server .pem / .key (signed by the other CA), expired.pem (server.key).
    pub fn make(dir: &Path) -> Certs {
        std::fs::create_dir_all(dir).unwrap();
        let run = |args: &[&str]| {
            let out = Command::new("openssl").args(args).current_dir(dir).output().expect("run openssl");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        for ca in ["ca", "other-ca"] {
            let subj = format!("/CN=sidecar test {ca}");
            run(&[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
                "-days",
                "30",
                "-subj",
                &subj,
            ]);
        }
        std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
        std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
        let leaf = |name: &str, ca: &str, ext: &str, days: &str| {
            run(&[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}.rsa"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ]);
            run(&["pkcs8", "-topk8", "-nocrypt", "-in", &format!("{name}.rsa"), "-out", &format!("{name}.key")]);
            run(&[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                &format!("{ca}.pem"),
                "-CAkey",
                &format!("{ca}.key"),
                "-CAcreateserial",
                "-out",
                &format!("{name}.pem"),
                "-days",
                days,
                "-extfile",
                ext,
            ]);
        };
        leaf("server", "ca", "server.ext", "30");
        leaf("client", "ca", "client.ext", "30");
        leaf("other-client", "other-ca", "client.ext", "30");
        leaf("other-server", "other-ca", "server.ext", "30");
        // Expired yesterday, for the same key as the server's.
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "expired.pem",
            "-days",
            "-1",
            "-extfile",
            "server.ext",
        ]);
        Certs { dir: dir.to_path_buf() }
    }

    /// RocketMQ's server-side TLS properties for a peer in enforcing mode with our certificate;
    /// `need_client_auth`: require a client certificate signed by our CA.
    pub fn server_jvm(&self, need_client_auth: bool) -> Vec<String> {
        let mut opts = vec![
            "-Dtls.server.mode=enforcing".to_string(),
            "-Dtls.test.mode.enable=false".to_string(),
            format!("-Dtls.server.certPath={}", self.path("server.pem")),
            format!("-Dtls.server.keyPath={}", self.path("server.key")),
            // The broker's own client (registering with the name servers) speaks TLS too.
            "-Dtls.enable=true".to_string(),
        ];
        if need_client_auth {
            opts.push("-Dtls.server.need.client.auth=require".into());
            opts.push("-Dtls.server.authClient=true".into());
            opts.push(format!("-Dtls.server.trustCertPath={}", self.path("ca.pem")));
        } else {
            opts.push("-Dtls.server.need.client.auth=none".into());
        }
        opts
    }
}

/// A name server and two brokers, all TLS-only: `acl` (ACL on) and `mtls` (client certificate
/// required); and `plain`, a broker with TLS off (`tls.server.mode=disabled`).
pub struct TlsCluster {
    pub certs: Certs,
    pub namesrv: Proc,
    pub acl: Proc,
    pub mtls: Proc,
    pub plain: Proc,
}

impl TlsCluster {
    pub fn start() -> TlsCluster {
        let dir = scratch(&format!("tls-{}", version()));
        let certs = Certs::make(&dir.join("certs"));
        let ns_jvm = certs.server_jvm(false);
        let ns_jvm: Vec<&str> = ns_jvm.iter().map(String::as_str).collect();
        let namesrv = start_namesrv_at(version(), &dir.join("namesrv"), free_port(), &[], &ns_jvm);
        namesrv.wait_booted();
        let ns = namesrv.addr();
        let broker = |sub: &str, name: &str, acl: bool, jvm: Vec<String>| {
            let spec = BrokerSpec {
                home: dir.join(sub),
                port: free_port(),
                namesrv: &ns,
                name,
                id: 0,
                role: "ASYNC_MASTER",
                acl,
            };
            start_broker_at(version(), &spec, &[], &jvm.iter().map(String::as_str).collect::<Vec<_>>())
        };
        let acl = broker("acl", "broker-tls", true, certs.server_jvm(false));
        let mtls = broker("mtls", "broker-mtls", false, certs.server_jvm(true));
        // Its own client still registers over TLS with the enforcing name server.
        let plain = broker(
            "plain",
            "broker-plain",
            false,
            vec!["-Dtls.server.mode=disabled".into(), "-Dtls.enable=true".into()],
        );
        for b in [&acl, &mtls, &plain] {
            b.wait_booted();
        }
        TlsCluster { certs, namesrv, acl, mtls, plain }
    }

    /// `--tls on --tls-ca <our CA>`.
    pub fn tls_args(&self) -> Vec<String> {
        vec!["--tls".into(), "on".into(), "--tls-ca".into(), self.certs.path("ca.pem")]
    }

    /// The same plus our client certificate.
    pub fn mtls_args(&self) -> Vec<String> {
        self.with_client("client")
    }

    /// `--tls on --tls-ca <our CA>` with the client certificate `name`.pem / `name`.key.
    pub fn with_client(&self, name: &str) -> Vec<String> {
        let mut a = self.tls_args();
        let (cert, key) = (self.certs.path(&format!("{name}.pem")), self.certs.path(&format!("{name}.key")));
        a.extend(["--tls-cert".into(), cert, "--tls-key".into(), key]);
        a
    }
}
