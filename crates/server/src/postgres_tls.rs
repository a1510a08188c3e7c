//! TLS to PostgreSQL, as the URL's `sslmode` asks (rustls, through tokio-postgres-rustls).
//!
//! | `sslmode` | TLS | certificate |
//! | --- | --- | --- |
//! | `disable` | never | — |
//! | `prefer` (the default, as in libpq) | if the server offers it | not checked |
//! | `require` | always, or no connection | not checked |
//! | `verify-full` | always, or no connection | chain (`sslrootcert=FILE`, else the public roots) and host name |
//!
//! `prefer` and `require` keep a passive listener out but not someone who can intercept the
//! connection: between machines that are not on one trusted network, use `verify-full`.
//! Anything else (`allow`, `verify-ca`, a typo) is refused, never silently downgraded.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_postgres::config::SslMode as WireSslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::StoreError;

/// The `sslmode` of a PostgreSQL URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Result<SslMode, StoreError> {
        match text {
            "disable" => Ok(SslMode::Disable),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(StoreError::Backend(format!(
                "the PostgreSQL URL's sslmode \"{other}\" is not supported: use disable, prefer, require or verify-full"
            ))),
        }
    }

    /// Whether a connection must be encrypted.
    pub fn requires_tls(self) -> bool {
        matches!(self, SslMode::Require | SslMode::VerifyFull)
    }
}

/// A PostgreSQL URL taken apart: what tokio-postgres reads, and the TLS settings Harbour reads.
#[derive(Debug)]
pub struct PostgresTarget {
    pub config: tokio_postgres::Config,
    pub mode: SslMode,
    pub root_cert: Option<PathBuf>,
}

impl PostgresTarget {
    /// Parse `postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=...&sslrootcert=FILE`.
    pub fn parse(url: &str) -> Result<PostgresTarget, StoreError> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut mode = SslMode::Prefer;
        let mut root_cert = None;
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let mut decoded = url::form_urlencoded::parse(pair.as_bytes());
            let Some((key, value)) = decoded.next() else { continue };
            match key.as_ref() {
                "sslmode" => mode = SslMode::parse(&value)?,
                "sslrootcert" => root_cert = Some(PathBuf::from(value.as_ref())),
                _ => rest.push(pair),
            }
        }
        let remaining = if rest.is_empty() { base.to_owned() } else { format!("{base}?{}", rest.join("&")) };
        // tokio-postgres's own message can quote the URL, password included: say less.
        let mut config: tokio_postgres::Config = remaining.parse().map_err(|_| {
            StoreError::Backend(
                "the PostgreSQL URL is not valid: write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE".into(),
            )
        })?;
        config.ssl_mode(match mode {
            SslMode::Disable => WireSslMode::Disable,
            SslMode::Prefer => WireSslMode::Prefer,
            SslMode::Require | SslMode::VerifyFull => WireSslMode::Require,
        });
        Ok(PostgresTarget { config, mode, root_cert })
    }

    /// The rustls connector for this mode (unused with `disable`).
    pub fn connector(&self) -> Result<MakeRustlsConnect, StoreError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| StoreError::Backend(format!("TLS could not be set up: {e}")))?;
        let config = match self.mode {
            SslMode::VerifyFull => {
                let mut roots = rustls::RootCertStore::empty();
                match &self.root_cert {
                    Some(path) => {
                        let unreadable = |e: rustls::pki_types::pem::Error| {
                            StoreError::Backend(format!(
                                "the sslrootcert file {} could not be read as PEM certificates: {e}",
                                path.display()
                            ))
                        };
                        for certificate in CertificateDer::pem_file_iter(path).map_err(unreadable)? {
                            roots.add(certificate.map_err(unreadable)?).map_err(|e| {
                                StoreError::Backend(format!(
                                    "the sslrootcert file {} holds an unusable certificate: {e}",
                                    path.display()
                                ))
                            })?;
                        }
                    }
                    None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
                }
                builder.with_root_certificates(roots).with_no_client_auth()
            }
            _ => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
                .with_no_client_auth(),
        };
        Ok(MakeRustlsConnect::new(config))
    }
}

/// `prefer` and `require`, as libpq does them: the handshake's signatures are checked, the
/// certificate's issuer and name are not.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
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

/// A connection failure as a sentence an administrator can act on.
pub fn connect_error(target: &PostgresTarget, error: &tokio_postgres::Error) -> StoreError {
    let cause = std::error::Error::source(error).map(ToString::to_string).unwrap_or_default();
    if target.mode.requires_tls() && cause.contains("server does not support TLS") {
        return StoreError::Backend(
            "the PostgreSQL server does not offer TLS, but the URL's sslmode requires it: turn ssl on in the \
             server's postgresql.conf, or (on a trusted network only) use sslmode=disable"
                .into(),
        );
    }
    StoreError::Backend(format!("could not connect to PostgreSQL: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_is_read_and_removed_from_the_url() {
        let target = PostgresTarget::parse("postgres://harbour@db.example.org:5432/harbour?sslmode=disable").unwrap();
        assert_eq!(target.mode, SslMode::Disable);
        assert_eq!(target.config.get_ssl_mode(), WireSslMode::Disable);
        let target = PostgresTarget::parse(
            "postgres://harbour@db/harbour?connect_timeout=5&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(target.mode, SslMode::VerifyFull);
        assert_eq!(target.config.get_ssl_mode(), WireSslMode::Require);
        assert_eq!(target.root_cert, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(target.config.get_connect_timeout(), Some(&std::time::Duration::from_secs(5)));
        // No sslmode: prefer, as libpq.
        assert_eq!(PostgresTarget::parse("postgres://harbour@db/harbour").unwrap().mode, SslMode::Prefer);
    }

    #[test]
    fn unknown_sslmodes_are_refused_with_a_sentence() {
        for mode in ["allow", "verify-ca", "requir", ""] {
            let error = PostgresTarget::parse(&format!("postgres://harbour@db/harbour?sslmode={mode}")).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "database error: the PostgreSQL URL's sslmode \"{mode}\" is not supported: use disable, prefer, \
                     require or verify-full"
                )
            );
        }
    }

    #[test]
    fn a_bad_url_does_not_echo_its_password() {
        let error = PostgresTarget::parse("postgres://harbour:s3cret@db:notaport/harbour").unwrap_err();
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }
}
