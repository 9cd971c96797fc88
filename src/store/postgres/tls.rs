//! TLS to PostgreSQL, with libpq's settings (`sslmode`, `sslrootcert`, `sslcert`,
//! `sslkey`, in the URL or as `PGSSLMODE`, `PGSSLROOTCERT`, `PGSSLCERT`,
//! `PGSSLKEY`), over rustls: no system library to install, the same code on every
//! platform, and a certificate check callsheet decides itself per mode.
//!
//! | sslmode | TLS | the server's certificate |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (the default, as libpq's) | when the server offers it | not checked |
//! | `require` | always | not checked; checked as `verify-ca` when `sslrootcert` is given (as libpq) |
//! | `verify-ca` | always | signed by `sslrootcert` |
//! | `verify-full` | always | signed by `sslrootcert`, and issued for the host connected to |
//!
//! `sslrootcert` names a PEM file of CA certificates, or `system` for the
//! platform's (`/etc/ssl/certs`); without it, `verify-ca` and `verify-full` use
//! `~/.postgresql/root.crt` as libpq does.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode as WireMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Mode {
    fn parse(s: &str) -> Result<Mode, String> {
        Ok(match s {
            "disable" => Mode::Disable,
            "allow" | "prefer" => Mode::Prefer,
            "require" => Mode::Require,
            "verify-ca" => Mode::VerifyCa,
            "verify-full" => Mode::VerifyFull,
            other => {
                return Err(format!(
                    "sslmode '{other}' is not one of disable, prefer, require, verify-ca, verify-full"
                ));
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Disable => "disable",
            Mode::Prefer => "prefer",
            Mode::Require => "require",
            Mode::VerifyCa => "verify-ca",
            Mode::VerifyFull => "verify-full",
        }
    }
}

/// Where the CA certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    File(PathBuf),
    /// The platform's store.
    System,
}

/// A URL's TLS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub mode: Mode,
    pub roots: Option<Roots>,
    /// `sslcert` and `sslkey`, for servers that want a client certificate.
    pub client: Option<(PathBuf, PathBuf)>,
}

impl Settings {
    /// How the certificate is checked: `require` with a root file checks as `verify-ca`.
    fn check(&self) -> Mode {
        match (self.mode, &self.roots) {
            (Mode::Require, Some(_)) => Mode::VerifyCa,
            (mode, _) => mode,
        }
    }
}

/// Takes the TLS settings out of a `postgres://` URL (tokio-postgres knows only some
/// of them), reading `PGSSLMODE` and the others where the URL has none: the URL for
/// tokio-postgres, and the settings.
pub fn split(url: &str) -> Result<(String, Settings), String> {
    split_with(url, |name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

fn split_with(url: &str, env: impl Fn(&str) -> Option<String>) -> Result<(String, Settings), String> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept = Vec::new();
    let (mut mode, mut root, mut cert, mut key) = (None, None, None, None);
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "sslmode" => mode = Some(v.into_owned()),
            "sslrootcert" => root = Some(v.into_owned()),
            "sslcert" => cert = Some(v.into_owned()),
            "sslkey" => key = Some(v.into_owned()),
            _ => kept.push((k.into_owned(), v.into_owned())),
        }
    }
    let mode = Mode::parse(&mode.or_else(|| env("PGSSLMODE")).unwrap_or_else(|| "prefer".into()))?;
    let roots = root.or_else(|| env("PGSSLROOTCERT")).map(|r| match r.as_str() {
        "system" => Roots::System,
        path => Roots::File(PathBuf::from(path)),
    });
    let client = match (cert.or_else(|| env("PGSSLCERT")), key.or_else(|| env("PGSSLKEY"))) {
        (Some(c), Some(k)) => Some((PathBuf::from(c), PathBuf::from(k))),
        (None, None) => None,
        _ => return Err("sslcert and sslkey go together: a client certificate needs its key".into()),
    };
    let mut url = base.to_string();
    if !kept.is_empty() {
        url.push('?');
        url.push_str(&form_urlencoded::Serializer::new(String::new()).extend_pairs(kept).finish());
    }
    Ok((url, Settings { mode, roots, client }))
}

/// The mode tokio-postgres negotiates with: TLS required for every checking mode.
pub fn wire_mode(settings: &Settings) -> WireMode {
    match settings.mode {
        Mode::Disable => WireMode::Disable,
        Mode::Prefer => WireMode::Prefer,
        Mode::Require | Mode::VerifyCa | Mode::VerifyFull => WireMode::Require,
    }
}

/// The TLS connector for these settings.
pub fn connector(settings: &Settings) -> Result<MakeRustlsConnect, String> {
    // ring: a pure Rust and assembly build, no CMake or C toolchain beyond cc. Its
    // provider is deprecated for lacking post-quantum key exchange, which the
    // managed PostgreSQL services do not offer either.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = match settings.check() {
        Mode::Disable | Mode::Prefer | Mode::Require => {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(Unchecked(provider)))
        }
        check @ (Mode::VerifyCa | Mode::VerifyFull) => {
            let roots = Arc::new(roots(settings)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| format!("sslrootcert: {e}"))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Checked { webpki, names: check == Mode::VerifyFull }))
        }
    };
    let config = match &settings.client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .and_then(|certs| certs.collect())
                .map_err(|e| format!("sslcert {}: {e}", cert.display()))?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("sslkey {}: {e}", key.display()))?;
            builder.with_client_auth_cert(certs, key).map_err(|e| format!("sslcert/sslkey: {e}"))?
        }
    };
    Ok(MakeRustlsConnect::new(config))
}

fn roots(settings: &Settings) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    let default = std::env::var_os("HOME").map(|h| Path::new(&h).join(".postgresql/root.crt"));
    match &settings.roots {
        Some(Roots::System) => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = store.add(cert);
            }
            if store.is_empty() {
                return Err("sslrootcert=system: the platform has no CA certificates".into());
            }
        }
        Some(Roots::File(path)) => add_file(&mut store, path)?,
        None => match default.filter(|p| p.exists()) {
            Some(path) => add_file(&mut store, &path)?,
            None => {
                return Err(format!(
                    "sslmode={} needs sslrootcert: a PEM file of the CA certificates, or 'system'",
                    settings.mode.name()
                ));
            }
        },
    }
    Ok(store)
}

fn add_file(store: &mut RootCertStore, path: &Path) -> Result<(), String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect())
        .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("sslrootcert {} holds no certificate", path.display()));
    }
    for cert in certs {
        store.add(cert).map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
    }
    Ok(())
}

/// One line saying why a connection failed for its TLS settings, or `None` when
/// the failure was something else. Never holds a password: only the settings and
/// the TLS library's reason.
pub fn explain(error: &str, settings: &Settings) -> Option<String> {
    let mode = settings.mode.name();
    if error.contains("server does not support TLS") {
        return Some(format!("the PostgreSQL server does not offer TLS, which sslmode={mode} requires"));
    }
    let root = match &settings.roots {
        Some(Roots::File(p)) => format!("sslrootcert={}", p.display()),
        Some(Roots::System) => "sslrootcert=system".into(),
        None => "~/.postgresql/root.crt".into(),
    };
    if error.contains("NotValidForName") {
        return Some(format!(
            "the PostgreSQL server's certificate is not issued for the host connected to (sslmode={mode})"
        ));
    }
    if error.contains("invalid peer certificate") {
        let why = error.rsplit("invalid peer certificate: ").next().unwrap_or(error).trim();
        return Some(format!(
            "the PostgreSQL server's certificate does not verify against {root} (sslmode={mode}): {why}"
        ));
    }
    None
}

/// `prefer` and `require` without roots: encryption, the certificate unchecked (as libpq).
#[derive(Debug)]
struct Unchecked(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca` and `verify-full`: the chain to the roots, and for `verify-full`
/// the host name too.
#[derive(Debug)]
struct Checked {
    webpki: Arc<WebPkiServerVerifier>,
    names: bool,
}

impl ServerCertVerifier for Checked {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.names => Ok(ServerCertVerified::assertion()),
            // The name's context lists what the certificate holds; the message stays one line.
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. })) => {
                Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForName))
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(url: &str) -> Result<(String, Settings), String> {
        split_with(url, |_| None)
    }

    #[test]
    fn settings_come_out_of_the_url_and_the_rest_stays() {
        let (url, s) =
            split("postgres://u:p@db:5432/x?sslmode=verify-full&sslrootcert=/ca.pem&options=-cjit%3Doff").unwrap();
        assert_eq!(url, "postgres://u:p@db:5432/x?options=-cjit%3Doff");
        assert_eq!(s, Settings { mode: Mode::VerifyFull, roots: Some(Roots::File("/ca.pem".into())), client: None });
        let (url, s) = split("postgres://db/x").unwrap();
        assert_eq!((url.as_str(), s.mode), ("postgres://db/x", Mode::Prefer));
        let (_, s) = split("postgres://db/x?sslmode=require&sslrootcert=system").unwrap();
        assert_eq!((s.check(), s.roots), (Mode::VerifyCa, Some(Roots::System)));
        let (_, s) = split("postgres://db/x?sslcert=/c.pem&sslkey=/k.pem").unwrap();
        assert_eq!(s.client, Some(("/c.pem".into(), "/k.pem".into())));
    }

    #[test]
    fn bad_settings_are_named() {
        assert_eq!(
            split("postgres://db/x?sslmode=sometimes").unwrap_err(),
            "sslmode 'sometimes' is not one of disable, prefer, require, verify-ca, verify-full"
        );
        assert!(split("postgres://db/x?sslcert=/c.pem").unwrap_err().contains("sslcert and sslkey go together"));
    }

    #[test]
    fn the_environment_fills_what_the_url_leaves_out() {
        let env = |name: &str| match name {
            "PGSSLMODE" => Some("verify-ca".to_string()),
            "PGSSLROOTCERT" => Some("/env-ca.pem".to_string()),
            _ => None,
        };
        let (_, s) = split_with("postgres://db/x", env).unwrap();
        assert_eq!((s.mode, s.roots), (Mode::VerifyCa, Some(Roots::File("/env-ca.pem".into()))));
        let (_, s) = split_with("postgres://db/x?sslmode=disable", env).unwrap();
        assert_eq!(s.mode, Mode::Disable);
    }
}
