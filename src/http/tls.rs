//! TLS for the API and the console: rustls on aws-lc-rs (the FIPS module with the `fips`
//! feature), TLS 1.3 and 1.2, ALPN h2 and http/1.1, optional client certificates, and a
//! server key either in a 0600 PEM file or in the token.
//!
//! A token key signs the handshake like the daemon signs everything: rustls builds the bytes
//! (the CertificateVerify content or the ServerKeyExchange parameters), we hash them in Rust,
//! the token signs the digest, and the signature is verified with the certificate's key
//! before rustls sends it (`crypto::sign`). The handshake runs on a tokio worker, so the
//! token call is made from `block_in_place` on the blocking pool under the daemon's permit,
//! like every other token call.
//!
//! [`Tls::reload`] (on `SIGHUP`) builds a new configuration from the files and swaps it in:
//! connections already open keep theirs.

use std::path::Path;
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::{CertifiedKey, Signer, SigningKey};
use rustls::{RootCertStore, ServerConfig, SignatureScheme};
use tokio_rustls::TlsAcceptor;

use crate::config::{ClientAuth, TlsConfig};
use crate::crypto::{self, KeyAlgorithm, PublicKey, SignatureAlgorithm};
use crate::service::App;

/// The live TLS configuration, replaced whole by [`Tls::reload`].
pub struct Tls {
    settings: TlsConfig,
    app: Arc<App>,
    current: RwLock<Arc<ServerConfig>>,
}

impl Tls {
    pub fn load(settings: &TlsConfig, app: &Arc<App>) -> Result<Tls, String> {
        let config = build(settings, app)?;
        Ok(Tls {
            settings: settings.clone(),
            app: app.clone(),
            current: RwLock::new(Arc::new(config)),
        })
    }

    /// Read the certificate chain (and key, CA file) again and use them for new
    /// connections. On error the old configuration stays.
    pub fn reload(&self) -> Result<(), String> {
        let config = build(&self.settings, &self.app)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
        Ok(())
    }

    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let chain = CertificateDer::pem_file_iter(path)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("server.tls.certificate_chain {}: {e}", path.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "server.tls.certificate_chain {}: no certificate",
            path.display()
        ));
    }
    Ok(chain)
}

/// A key file must be readable by the daemon's user alone, like the PIN file.
fn read_key_file(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    use std::os::unix::fs::PermissionsExt;
    let what = |e: &dyn std::fmt::Display| format!("server.tls.key_file {}: {e}", path.display());
    let mode = std::fs::metadata(path)
        .map_err(|e| what(&e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(what(&format_args!(
            "mode {:o} lets others read it; chmod 600",
            mode & 0o777
        )));
    }
    PrivateKeyDer::from_pem_file(path).map_err(|e| what(&e))
}

fn build(settings: &TlsConfig, app: &Arc<App>) -> Result<ServerConfig, String> {
    let provider = provider();
    let chain = read_chain(&settings.certificate_chain)?;
    let key: Arc<dyn SigningKey> = match (&settings.key_file, &settings.key_label) {
        (Some(path), _) => provider
            .key_provider
            .load_private_key(read_key_file(path)?)
            .map_err(|e| format!("server.tls.key_file: {e}"))?,
        (None, Some(label)) => {
            let public = crate::x509::ParsedCertificate::from_der(chain[0].as_ref())
                .and_then(|c| c.public_key())
                .map_err(|e| format!("server.tls.certificate_chain: {e}"))?;
            Arc::new(TokenTlsKey {
                app: app.clone(),
                label: label.clone(),
                public,
            })
        }
        (None, None) => return Err("server.tls: no key".into()),
    };
    let certified = CertifiedKey::new(chain, key);
    // A file key can be matched against the certificate now; a token key is matched at
    // every signature (the token may be away at start).
    if settings.key_file.is_some() {
        certified
            .keys_match()
            .map_err(|e| format!("server.tls.key_file does not match the certificate: {e}"))?;
    }
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("server.tls: {e}"))?;
    let builder = match &settings.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for c in read_chain(path).map_err(|e| e.replace("certificate_chain", "client_ca"))? {
                roots
                    .add(c)
                    .map_err(|e| format!("server.tls.client_ca: {e}"))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = match settings.client_auth.unwrap_or(ClientAuth::Required) {
                ClientAuth::Required => verifier.build(),
                ClientAuth::Optional => verifier.allow_unauthenticated().build(),
            }
            .map_err(|e| format!("server.tls.client_ca: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(Arc::new(Fixed(Arc::new(certified))));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// One certificate for every client.
#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl ResolvesServerCert for Fixed {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// The TLS server key in the token, named by label; `public` is the certificate's key.
struct TokenTlsKey {
    app: Arc<App>,
    label: String,
    public: PublicKey,
}

/// The signature scheme for our key, among those the peer offers, and how we sign it.
fn scheme_for(
    key: KeyAlgorithm,
    offered: &[SignatureScheme],
) -> Option<(SignatureScheme, SignatureAlgorithm)> {
    let candidates: &[(SignatureScheme, SignatureAlgorithm)] = match key {
        KeyAlgorithm::P256 => &[(
            SignatureScheme::ECDSA_NISTP256_SHA256,
            SignatureAlgorithm::EcdsaSha256,
        )],
        KeyAlgorithm::P384 => &[(
            SignatureScheme::ECDSA_NISTP384_SHA384,
            SignatureAlgorithm::EcdsaSha384,
        )],
        KeyAlgorithm::P521 => &[(
            SignatureScheme::ECDSA_NISTP521_SHA512,
            SignatureAlgorithm::EcdsaSha512,
        )],
        // TLS 1.3 allows only PSS; PKCS#1 v1.5 is for TLS 1.2 peers that offer no PSS.
        KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => &[
            (
                SignatureScheme::RSA_PSS_SHA256,
                SignatureAlgorithm::RsaPssSha256,
            ),
            (
                SignatureScheme::RSA_PKCS1_SHA256,
                SignatureAlgorithm::RsaPkcs1Sha256,
            ),
        ],
    };
    candidates
        .iter()
        .find(|(s, _)| offered.contains(s))
        .copied()
}

impl std::fmt::Debug for TokenTlsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenTlsKey")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for TokenTlsSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenTlsSigner")
            .field("label", &self.label)
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl SigningKey for TokenTlsKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        let (scheme, alg) = scheme_for(self.public.algorithm(), offered)?;
        Some(Box::new(TokenTlsSigner {
            app: self.app.clone(),
            label: self.label.clone(),
            public: self.public.clone(),
            scheme,
            alg,
        }))
    }

    fn algorithm(&self) -> rustls::SignatureAlgorithm {
        match self.public.algorithm().curve() {
            Some(_) => rustls::SignatureAlgorithm::ECDSA,
            None => rustls::SignatureAlgorithm::RSA,
        }
    }
}

struct TokenTlsSigner {
    app: Arc<App>,
    label: String,
    public: PublicKey,
    scheme: SignatureScheme,
    alg: SignatureAlgorithm,
}

impl Signer for TokenTlsSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        let (app, label, public, alg) = (
            self.app.clone(),
            self.label.clone(),
            self.public.clone(),
            self.alg,
        );
        let message = message.to_vec();
        let work = move || -> Result<Vec<u8>, String> {
            let token = app.ready_token().map_err(|e| e.to_string())?;
            let key = token.find(&label).map_err(|e| e.to_string())?;
            // The key must be the certificate's: a swapped token object signs nothing.
            if key.public_key() != &public {
                return Err(format!(
                    "token key {label} is not the key of server.tls.certificate_chain"
                ));
            }
            let sig = crypto::sign(&key, alg, &message).map_err(|e| e.to_string())?;
            Ok(sig.to_der().to_vec())
        };
        let app = self.app.clone();
        let handle = tokio::runtime::Handle::current();
        let result = tokio::task::block_in_place(|| handle.block_on(app.blocking(work)));
        match result.map_err(|e| e.to_string()).and_then(|r| r) {
            Ok(sig) => Ok(sig),
            Err(e) => {
                tracing::warn!(error = %e, "TLS handshake signature failed");
                Err(rustls::Error::General(
                    "the server key could not sign".into(),
                ))
            }
        }
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_follow_the_key() {
        let offered = [
            SignatureScheme::RSA_PKCS1_SHA256,
            SignatureScheme::ECDSA_NISTP256_SHA256,
        ];
        assert_eq!(
            scheme_for(KeyAlgorithm::P256, &offered).map(|s| s.0),
            Some(SignatureScheme::ECDSA_NISTP256_SHA256)
        );
        assert_eq!(scheme_for(KeyAlgorithm::P384, &offered), None);
        // A TLS 1.2 peer without PSS gets PKCS#1 v1.5; one with PSS gets PSS.
        assert_eq!(
            scheme_for(KeyAlgorithm::Rsa2048, &offered).map(|s| s.1),
            Some(SignatureAlgorithm::RsaPkcs1Sha256)
        );
        let pss = [
            SignatureScheme::RSA_PSS_SHA256,
            SignatureScheme::RSA_PKCS1_SHA256,
        ];
        assert_eq!(
            scheme_for(KeyAlgorithm::Rsa3072, &pss).map(|s| s.1),
            Some(SignatureAlgorithm::RsaPssSha256)
        );
    }
}
