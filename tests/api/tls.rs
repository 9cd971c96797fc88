//! PostgreSQL over TLS with libpq's settings (store/postgres/tls.rs), against the
//! machine's own server, which runs with `ssl = on` and Debian's self-signed
//! certificate for `localhost`. PostgreSQL only: skipped, saying so, without
//! CALLSHEET_TEST_POSTGRES_URL, and failing under CI=true.

use crate::common::{Backend, on_backend, postgres_url};

/// The test server's URL with these settings in place of any it had.
fn with(settings: &str) -> String {
    let base = postgres_url().expect("CALLSHEET_TEST_POSTGRES_URL");
    let (base, query) = base.split_once('?').unwrap_or((&base, ""));
    let kept: Vec<&str> = query.split('&').filter(|p| !p.is_empty() && !p.starts_with("ssl")).collect();
    let mut url = format!("{base}?{settings}");
    for p in kept {
        url.push('&');
        url.push_str(p);
    }
    url
}

/// The certificate the server presents, as its configuration names it.
async fn server_certificate() -> String {
    let client = callsheet::store::postgres::connect(&with("sslmode=disable")).await.unwrap();
    client.query_one("SHOW ssl_cert_file", &[]).await.unwrap().get(0)
}

/// Whether this session's connection is encrypted, as the server sees it.
async fn encrypted(url: &str) -> bool {
    let client = callsheet::store::postgres::connect(url).await.unwrap_or_else(|e| panic!("{url}: {e:#}"));
    client.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).await.unwrap().get(0)
}

async fn refused(url: &str) -> String {
    match callsheet::store::postgres::connect(url).await {
        Ok(_) => panic!("{url} connected"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn require_and_prefer_encrypt_and_disable_does_not() {
    on_backend(Backend::Postgres, async {
        assert!(encrypted(&with("sslmode=require")).await);
        assert!(encrypted(&with("sslmode=prefer")).await, "prefer takes TLS the server offers");
        assert!(!encrypted(&with("sslmode=disable")).await);
        // A whole store over TLS: migrations, the pool, a write and a read.
        let store = callsheet::store::open(&with("sslmode=require")).await.unwrap();
        let (account, _) = store.create_account("TLS".into(), "VN".into()).await.unwrap();
        assert!(store.account(account.account_id()).await.unwrap().is_some());
    })
    .await
}

#[tokio::test]
async fn verify_ca_trusts_the_servers_certificate_and_verify_full_its_name() {
    on_backend(Backend::Postgres, async {
        let cert = server_certificate().await;
        assert!(encrypted(&with(&format!("sslmode=verify-ca&sslrootcert={cert}"))).await);
        // require with a root file checks as verify-ca, as libpq does.
        assert!(encrypted(&with(&format!("sslmode=require&sslrootcert={cert}"))).await);
        // The certificate is issued for localhost: verify-full holds there...
        let localhost = with(&format!("sslmode=verify-full&sslrootcert={cert}")).replace("127.0.0.1", "localhost");
        assert!(encrypted(&localhost).await, "{localhost}");
        // ...and not for 127.0.0.1, which it does not name.
        let by_address = with(&format!("sslmode=verify-full&sslrootcert={cert}"));
        let why = refused(&by_address).await;
        assert!(why.contains("certificate is not issued for the host connected to (sslmode=verify-full)"), "{why}");
        assert_eq!(why.lines().count(), 1, "one line: {why}");
    })
    .await
}

#[tokio::test]
async fn a_certificate_that_does_not_verify_is_refused_naming_the_setting() {
    on_backend(Backend::Postgres, async {
        let other_ca = "/etc/ssl/certs/ca-certificates.crt";
        if !std::path::Path::new(other_ca).exists() {
            panic!("{other_ca} is missing: install ca-certificates");
        }
        let why = refused(&with(&format!("sslmode=verify-ca&sslrootcert={other_ca}"))).await;
        assert!(why.contains(&format!("does not verify against sslrootcert={other_ca} (sslmode=verify-ca)")), "{why}");
        let why = refused(&with("sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")).await;
        assert!(why.contains("sslrootcert /nonexistent/ca.pem"), "{why}");
        let why = refused(&with("sslmode=sometimes")).await;
        assert!(why.contains("sslmode 'sometimes' is not one of"), "{why}");
        // A password in the URL never shows.
        let with_password = with("sslmode=verify-ca&sslrootcert=/etc/ssl/certs/ca-certificates.crt").replacen(
            "://postgres@",
            "://postgres:s3cretpass@",
            1,
        );
        let why = match callsheet::store::open(&with_password).await {
            Ok(_) => panic!("connected"),
            Err(e) => format!("{e:#}"),
        };
        assert!(!why.contains("s3cretpass"), "{why}");
        assert!(why.contains("sslmode=verify-ca"), "{why}");
    })
    .await
}

#[tokio::test]
async fn a_server_without_tls_under_require_is_refused_naming_the_setting() {
    // A server that answers PostgreSQL's SSLRequest with 'N', as one without TLS does.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 8];
            if socket.read_exact(&mut request).await.is_ok() {
                let _ = socket.write_all(b"N").await;
            }
        }
    });
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=require");
    let why = refused(&url).await;
    assert!(why.contains("the PostgreSQL server does not offer TLS, which sslmode=require requires"), "{why}");
    for mode in ["verify-ca", "verify-full"] {
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode={mode}&sslrootcert=system");
        let why = refused(&url).await;
        assert!(why.contains(&format!("does not offer TLS, which sslmode={mode} requires")), "{why}");
    }
}
