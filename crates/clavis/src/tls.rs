//! Serving HTTPS with rustls: the certificate and key come from PEM files and are read
//! again, without a restart, when either file changes (checked at each handshake: two
//! `stat`s, cheap beside the handshake itself). A file that fails to load keeps the
//! previous pair in use and is logged.
//!
//! The mutual-TLS listener (RFC 8705) asks every client for a certificate and accepts any
//! that proves possession of its key: whether the certificate authenticates a client is
//! the service's decision (`tls_client_auth` against the trusted CAs and the registered
//! names, `self_signed_tls_client_auth` against the client's JWKS), per client.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::Context;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};

/// A certificate chain and its private key, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server configuration for `files`; `client_certificates` asks clients for theirs.
pub fn server_config(files: &TlsFiles, client_certificates: bool) -> anyhow::Result<Arc<ServerConfig>> {
    let resolver = Arc::new(ReloadingCert::new(files.clone())?);
    let builder = ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions().context("TLS versions")?;
    let mut config = if client_certificates {
        builder.with_client_cert_verifier(Arc::new(AnyClientCertificate(provider()))).with_cert_resolver(resolver)
    } else {
        builder.with_no_client_auth().with_cert_resolver(resolver)
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Reads the DER certificates of a PEM bundle (the CAs trusted for `tls_client_auth`).
pub fn read_certificates(path: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let certs: Vec<Vec<u8>> = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("reading {}", path.display()))?
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing {}", path.display()))?;
    anyhow::ensure!(!certs.is_empty(), "{} holds no certificate", path.display());
    Ok(certs)
}

fn load(files: &TlsFiles) -> anyhow::Result<Arc<CertifiedKey>> {
    let chain: Vec<CertificateDer<'static>> = read_certificates(&files.cert)?.into_iter().map(CertificateDer::from).collect();
    let key = PrivateKeyDer::from_pem_file(&files.key).with_context(|| format!("reading the private key {}", files.key.display()))?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key).context("the private key's type is not supported")?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().context("the private key does not belong to the certificate")?;
    Ok(Arc::new(certified))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The current certificate pair, reloaded when a file's modification time changes.
#[derive(Debug)]
struct ReloadingCert {
    files: TlsFiles,
    current: Mutex<(Option<SystemTime>, Option<SystemTime>, Arc<CertifiedKey>)>,
}

impl ReloadingCert {
    fn new(files: TlsFiles) -> anyhow::Result<Self> {
        let stamps = (modified(&files.cert), modified(&files.key));
        let key = load(&files)?;
        Ok(Self { files, current: Mutex::new((stamps.0, stamps.1, key)) })
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let stamps = (modified(&self.files.cert), modified(&self.files.key));
        let mut current = self.current.lock().expect("certificate lock");
        if (current.0, current.1) != stamps {
            match load(&self.files) {
                Ok(key) => {
                    tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded");
                    *current = (stamps.0, stamps.1, key);
                }
                Err(e) => {
                    // Retried at the next handshake; the previous pair serves meanwhile.
                    tracing::warn!(error = %format!("{e:#}"), "TLS certificate not reloaded");
                }
            }
        }
        Some(current.2.clone())
    }
}

/// Asks for a client certificate, takes any whose key signs the handshake; none is fine
/// too (the client then authenticates otherwise).
#[derive(Debug)]
struct AnyClientCertificate(Arc<CryptoProvider>);

impl ClientCertVerifier for AnyClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
