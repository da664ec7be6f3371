//! Building a VICAL from its members and signing it: [`build_vical`] → [`UnsignedVical`] →
//! [`UnsignedVical::prepare`] (the Sig_structure) → `crypto::sign` → [`PreparedVical::finish`].
//!
//! Everything a CertificateInfo says is taken from its IACA certificate (serialNumber, ski,
//! issuingCountry, stateOrProvinceName, notBefore, notAfter), which must pass Annex B Table
//! B.1 again here; only the docTypes, certificate profiles and issuing authority come from
//! the caller. Nothing about a member is written that its certificate does not say.

use std::collections::HashMap;

use time::OffsetDateTime;

use super::super::CoseError;
use super::super::cbor::encode;
use super::super::sign1::Draft;
use super::super::tdate::format_tdate;
use super::{CertificateInfo, VICAL_VERSION, Vical, strip_leading_zeros};
use crate::crypto::{PublicKey, SignatureAlgorithm};
use crate::x509::{ParsedCertificate, VICAL_SIGNER_EKU, X509Error, check_iaca};

/// Most members in one VICAL (AAMVA's has 13, MATTR's Austroads one 40).
pub const MAX_MEMBERS: usize = 10_000;
/// Most docTypes of one member.
pub const MAX_DOC_TYPES: usize = 64;
/// Most certificate profiles of one member.
pub const MAX_PROFILES: usize = 16;
/// Longest vicalProvider, docType, certificate profile or issuing authority, in characters.
pub const MAX_TEXT_LEN: usize = 256;
/// Most certificates in the x5chain: the VICAL signer and the chain to the DTS root.
pub const MAX_X5CHAIN: usize = 8;

const SIGNER: &str = "VICAL signer";

/// The VICAL's own fields.
#[derive(Debug, Clone)]
pub struct VicalSpec {
    pub vical_provider: String,
    /// The time of issue (the caller's clock); fractions of a second are dropped.
    pub date: OffsetDateTime,
    /// Unique and increasing per provider (Annex C); the caller keeps the counter.
    pub vical_issue_id: u64,
    /// When the next VICAL is due; later than `date`.
    pub next_update: Option<OffsetDateTime>,
}

/// One IACA to list, with what only its participant record says.
#[derive(Debug, Clone)]
pub struct VicalMember {
    pub certificate: ParsedCertificate,
    /// At least one.
    pub doc_types: Vec<String>,
    /// URNs (RFC 8141); empty: no certificateProfile member.
    pub certificate_profiles: Vec<String>,
    pub issuing_authority: Option<String>,
}

/// A VICAL built and encoded, not yet signed.
#[derive(Debug, Clone)]
pub struct UnsignedVical {
    vical: Vical,
    bytes: Vec<u8>,
}

/// Build the VICAL of `members` in their order. Refuses a member whose certificate is not an
/// Annex B IACA or has expired at `spec.date` (the field `certificateInfos[i]` and the
/// message name it), or that repeats another's certificate. A member not valid yet is listed
/// (MATTR accepts an IACA whose notBefore is in the future).
pub fn build_vical(spec: &VicalSpec, members: &[VicalMember]) -> Result<UnsignedVical, CoseError> {
    check_text("vicalProvider", &spec.vical_provider)?;
    let date = whole_seconds("date", spec.date)?;
    let next_update = spec
        .next_update
        .map(|t| whole_seconds("nextUpdate", t))
        .transpose()?;
    if next_update.is_some_and(|n| n <= date) {
        return Err(CoseError::invalid(
            "nextUpdate",
            format!(
                "must be later than the VICAL's date ({})",
                format_tdate(date)
            ),
        ));
    }
    if members.len() > MAX_MEMBERS {
        return Err(CoseError::too_large(
            "certificateInfos",
            format!(
                "{} members; at most {MAX_MEMBERS} are listed in one VICAL",
                members.len()
            ),
        ));
    }
    let mut infos: Vec<CertificateInfo> = Vec::with_capacity(members.len());
    let mut seen: HashMap<&[u8], usize> = HashMap::with_capacity(members.len());
    for (i, m) in members.iter().enumerate() {
        let field = format!("certificateInfos[{i}]");
        if let Some(j) = seen.insert(m.certificate.der(), i) {
            return Err(CoseError::invalid(
                &field,
                format!(
                    "{} repeats certificateInfos[{j}]: each IACA is listed once",
                    describe(&m.certificate)
                ),
            ));
        }
        infos.push(member_info(m, &field, date)?);
    }
    let vical = Vical {
        version: VICAL_VERSION.to_owned(),
        vical_provider: spec.vical_provider.clone(),
        date,
        vical_issue_id: Some(spec.vical_issue_id),
        next_update,
        certificate_infos: infos,
        other_keys: Vec::new(),
    };
    let bytes = encode(&vical.to_value());
    Ok(UnsignedVical { vical, bytes })
}

fn member_info(
    m: &VicalMember,
    field: &str,
    date: OffsetDateTime,
) -> Result<CertificateInfo, CoseError> {
    let cert = &m.certificate;
    let at = |name: &str| format!("{field}.{name}");
    let iaca = check_iaca(cert, &at("certificate")).map_err(|e| match e {
        X509Error::Invalid { field, rule } => CoseError::invalid(field, rule),
        other => CoseError::invalid(at("certificate"), other.to_string()),
    })?;
    if date > cert.not_after() {
        return Err(CoseError::invalid(
            field,
            format!(
                "{} expired at {}, before the VICAL's date {}: an expired IACA is not listed",
                describe(cert),
                format_tdate(cert.not_after()),
                format_tdate(date)
            ),
        ));
    }
    if m.doc_types.is_empty() {
        return Err(CoseError::invalid(
            at("docType"),
            "needs at least one docType (Annex C: [+ DocType])",
        ));
    }
    check_list(&at("docType"), &m.doc_types, MAX_DOC_TYPES, |_, _| Ok(()))?;
    check_list(
        &at("certificateProfile"),
        &m.certificate_profiles,
        MAX_PROFILES,
        check_urn,
    )?;
    if let Some(a) = &m.issuing_authority {
        check_text(&at("issuingAuthority"), a)?;
    }
    let serial = cert
        .certificate()
        .tbs_certificate()
        .serial_number()
        .as_bytes();
    Ok(CertificateInfo {
        certificate: cert.der().to_vec(),
        serial_number: strip_leading_zeros(serial),
        // The keyIdentifier octets: Annex C's "value of the Subject Key Identifier field".
        ski: iaca.key_identifier,
        doc_types: m.doc_types.clone(),
        certificate_profiles: (!m.certificate_profiles.is_empty())
            .then(|| m.certificate_profiles.clone()),
        issuing_authority: m.issuing_authority.clone(),
        // check_iaca requires countryName; an IACA is self-signed, so issuer = subject.
        issuing_country: iaca.fields.country,
        state_or_province_name: iaca.fields.state_or_province,
        issuer: None,
        subject: None,
        not_before: Some(cert.not_before()),
        not_after: Some(cert.not_after()),
        other_keys: Vec::new(),
    })
}

/// "the IACA <CN> (serial <hex>)", to name a member in a message.
fn describe(cert: &ParsedCertificate) -> String {
    let cn = cert.subject().ok().and_then(|s| s.common_name);
    format!(
        "the IACA {:?} (serial {})",
        cn.as_deref().unwrap_or("without commonName"),
        cert.serial_hex()
    )
}

fn check_text(field: &str, s: &str) -> Result<(), CoseError> {
    if s.trim().is_empty() {
        return Err(CoseError::invalid(field, "must not be empty"));
    }
    let n = s.chars().count();
    if n > MAX_TEXT_LEN {
        return Err(CoseError::too_large(
            field,
            format!("is {n} characters; at most {MAX_TEXT_LEN} are accepted"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(CoseError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Each entry a text (and passes `rule`), no two alike, at most `max` of them.
fn check_list(
    field: &str,
    items: &[String],
    max: usize,
    rule: fn(&str, &str) -> Result<(), CoseError>,
) -> Result<(), CoseError> {
    if items.len() > max {
        return Err(CoseError::too_large(
            field,
            format!("{} entries; at most {max} are accepted", items.len()),
        ));
    }
    for (j, s) in items.iter().enumerate() {
        let at = format!("{field}[{j}]");
        check_text(&at, s)?;
        rule(&at, s)?;
        if items[..j].contains(s) {
            return Err(CoseError::invalid(at, "appears more than once"));
        }
    }
    Ok(())
}

/// Annex C: a CertificateProfile is a URN (RFC 8141 section 2: `urn:` NID `:` NSS, the NID 2
/// to 32 letters, digits and hyphens, starting and ending with a letter or digit).
fn check_urn(field: &str, s: &str) -> Result<(), CoseError> {
    let bad = || {
        CoseError::invalid(
            field,
            "must be a URN (RFC 8141), such as urn:example:mdl-profile",
        )
    };
    let (scheme, rest) = s.split_once(':').ok_or_else(bad)?;
    let (nid, nss) = rest.split_once(':').ok_or_else(bad)?;
    let nid_ok = (2..=32).contains(&nid.len())
        && nid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !nid.starts_with('-')
        && !nid.ends_with('-');
    if !scheme.eq_ignore_ascii_case("urn") || !nid_ok || nss.is_empty() || s.contains(' ') {
        return Err(bad());
    }
    Ok(())
}

/// `t` without its fraction of a second (a tdate has none), in the years a tdate can hold.
fn whole_seconds(field: &str, t: OffsetDateTime) -> Result<OffsetDateTime, CoseError> {
    if !(0..=9999).contains(&t.year()) {
        return Err(CoseError::invalid(
            field,
            "must be in the years 0000 to 9999",
        ));
    }
    Ok(t.replace_nanosecond(0).expect("0 is a nanosecond"))
}

impl UnsignedVical {
    pub fn vical(&self) -> &Vical {
        &self.vical
    }

    /// The VICAL's CBOR, the COSE_Sign1's payload.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Fix the Sig_structure for the VICAL signer of `x5chain`: its certificate first, each
    /// one issued by the next, up to the DTS root or the certificate below it (AAMVA sends
    /// its root, MATTR only the signer). The signer certificate must carry the VICAL signer
    /// EKU 1.0.18013.5.1.8 (ISO/IEC 18013-5 C.1.7.2), be valid at the VICAL's date and not
    /// be self-issued. These are the caller's certificates, so a failure is a caller error.
    pub fn prepare(self, x5chain: &[ParsedCertificate]) -> Result<PreparedVical, CoseError> {
        let signer = x5chain
            .first()
            .ok_or_else(|| CoseError::caller("x5chain must hold the VICAL signer certificate"))?;
        if x5chain.len() > MAX_X5CHAIN {
            return Err(CoseError::caller(format!(
                "x5chain holds {} certificates; at most {MAX_X5CHAIN}",
                x5chain.len()
            )));
        }
        if signer.is_self_issued() {
            return Err(CoseError::caller(
                "the VICAL signer certificate must be issued by the DTS root, not self-issued",
            ));
        }
        let eku = signer
            .ext()
            .extended_key_usage()
            .map_err(|e| CoseError::caller(format!("VICAL signer certificate: {e}")))?;
        if !eku.is_some_and(|f| f.value.contains(&VICAL_SIGNER_EKU)) {
            return Err(CoseError::caller(
                "the VICAL signer certificate lacks the extKeyUsage 1.0.18013.5.1.8 \
                 (ISO/IEC 18013-5 C.1.7.2)",
            ));
        }
        signer.check_valid_at(self.vical.date).map_err(|e| {
            CoseError::caller(format!(
                "the VICAL signer certificate at the VICAL's date {}: {e}",
                format_tdate(self.vical.date)
            ))
        })?;
        for (i, pair) in x5chain.windows(2).enumerate() {
            let (cert, issuer) = (&pair[0], &pair[1]);
            let linked = cert.certificate().tbs_certificate().issuer()
                == issuer.certificate().tbs_certificate().subject()
                && issuer
                    .public_key()
                    .is_ok_and(|k| cert.verify_signed_by(&k).is_ok());
            if !linked {
                return Err(CoseError::caller(format!(
                    "x5chain[{i}] is not issued by x5chain[{}]",
                    i + 1
                )));
            }
        }
        let draft = Draft::new(self.bytes, x5chain, SIGNER)?;
        Ok(PreparedVical {
            draft,
            vical: self.vical,
        })
    }
}

/// A VICAL whose COSE_Sign1 awaits its signature.
#[derive(Debug, Clone)]
pub struct PreparedVical {
    draft: Draft,
    vical: Vical,
}

impl PreparedVical {
    /// The Sig_structure `["Signature1", protected, h'', payload]`: what `crypto::sign` signs.
    pub fn bytes(&self) -> &[u8] {
        self.draft.tbs()
    }

    /// ES256, ES384 or ES512 by the signer key's curve.
    pub fn signature_algorithm(&self) -> SignatureAlgorithm {
        self.draft.signature_algorithm()
    }

    /// The VICAL signer certificate's key.
    pub fn public_key(&self) -> &PublicKey {
        self.draft.public_key()
    }

    pub fn vical(&self) -> &Vical {
        &self.vical
    }

    /// The VICAL's CBOR.
    pub fn payload(&self) -> &[u8] {
        self.draft.payload()
    }

    /// Complete with the raw `r || s` of [`PreparedVical::bytes`] (`VerifiedSignature::
    /// to_fixed`), verified once more with the VICAL signer certificate's key.
    pub fn finish(self, signature: &[u8]) -> Result<SignedVical, CoseError> {
        let alg = self.draft.signature_algorithm();
        let (sign1, bytes) = self.draft.complete(signature, SIGNER)?;
        let payload = sign1.payload.unwrap_or_default();
        Ok(SignedVical {
            bytes,
            payload,
            alg,
            vical: self.vical,
        })
    }
}

/// A signed VICAL.
#[derive(Debug, Clone)]
pub struct SignedVical {
    bytes: Vec<u8>,
    payload: Vec<u8>,
    alg: SignatureAlgorithm,
    vical: Vical,
}

impl SignedVical {
    /// The untagged COSE_Sign1, what relying parties download (`application/cbor`).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The VICAL's CBOR inside it.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    pub fn signature_algorithm(&self) -> SignatureAlgorithm {
        self.alg
    }

    pub fn vical(&self) -> &Vical {
        &self.vical
    }
}
