//! Extension values: validated inputs (key usage names, EKU OIDs, alternative names, CRL
//! distribution points) and lookup of extensions in parsed certificates and CSRs.

use std::net::IpAddr;

use const_oid::{AssociatedOid, ObjectIdentifier};
use der::asn1::{Ia5String, OctetString};
use der::flagset::FlagSet;
use der::{Decode, Encode};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName, GeneralNames};
use x509_cert::ext::pkix::{
    AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies,
    CrlDistributionPoints, ExtendedKeyUsage, FreshestCrl, IssuerAltName, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};

use super::error::{X509Error, enc};

/// Most alternative names accepted in one extension: generous for real use, small enough to
/// bound the work done on hostile input.
pub const MAX_ALT_NAMES: usize = 256;
/// Longest URI or e-mail address accepted.
pub const MAX_URI_LEN: usize = 2048;

/// keyUsage bits by their API names (RFC 5280 4.2.1.3 spelling, capitalised).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyUsageName {
    DigitalSignature,
    /// Renamed contentCommitment in recent X.509 editions; both names are accepted.
    NonRepudiation,
    KeyEncipherment,
    DataEncipherment,
    KeyAgreement,
    KeyCertSign,
    CrlSign,
    EncipherOnly,
    DecipherOnly,
}

impl KeyUsageName {
    pub const ALL: [KeyUsageName; 9] = [
        KeyUsageName::DigitalSignature,
        KeyUsageName::NonRepudiation,
        KeyUsageName::KeyEncipherment,
        KeyUsageName::DataEncipherment,
        KeyUsageName::KeyAgreement,
        KeyUsageName::KeyCertSign,
        KeyUsageName::CrlSign,
        KeyUsageName::EncipherOnly,
        KeyUsageName::DecipherOnly,
    ];

    pub fn name(self) -> &'static str {
        match self {
            KeyUsageName::DigitalSignature => "DigitalSignature",
            KeyUsageName::NonRepudiation => "NonRepudiation",
            KeyUsageName::KeyEncipherment => "KeyEncipherment",
            KeyUsageName::DataEncipherment => "DataEncipherment",
            KeyUsageName::KeyAgreement => "KeyAgreement",
            KeyUsageName::KeyCertSign => "KeyCertSign",
            KeyUsageName::CrlSign => "CRLSign",
            KeyUsageName::EncipherOnly => "EncipherOnly",
            KeyUsageName::DecipherOnly => "DecipherOnly",
        }
    }

    /// Exact names only (plus the ContentCommitment alias): the API documents them as such.
    pub fn from_name(name: &str) -> Option<Self> {
        if name == "ContentCommitment" {
            return Some(KeyUsageName::NonRepudiation);
        }
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    pub fn flag(self) -> KeyUsages {
        match self {
            KeyUsageName::DigitalSignature => KeyUsages::DigitalSignature,
            KeyUsageName::NonRepudiation => KeyUsages::NonRepudiation,
            KeyUsageName::KeyEncipherment => KeyUsages::KeyEncipherment,
            KeyUsageName::DataEncipherment => KeyUsages::DataEncipherment,
            KeyUsageName::KeyAgreement => KeyUsages::KeyAgreement,
            KeyUsageName::KeyCertSign => KeyUsages::KeyCertSign,
            KeyUsageName::CrlSign => KeyUsages::CRLSign,
            KeyUsageName::EncipherOnly => KeyUsages::EncipherOnly,
            KeyUsageName::DecipherOnly => KeyUsages::DecipherOnly,
        }
    }

    /// Parse a list of API names; `field` names the list in errors.
    pub fn parse_list(names: &[String], field: &str) -> Result<Vec<KeyUsageName>, X509Error> {
        let mut out = Vec::new();
        for (i, n) in names.iter().enumerate() {
            let k = Self::from_name(n).ok_or_else(|| {
                X509Error::invalid(
                    format!("{field}[{i}]"),
                    format!(
                        "unknown key usage `{n}`; expected one of {}",
                        Self::ALL.map(|k| k.name()).join(", ")
                    ),
                )
            })?;
            if !out.contains(&k) {
                out.push(k);
            }
        }
        Ok(out)
    }

    /// The names of the bits set in a keyUsage value.
    pub fn from_flags(flags: FlagSet<KeyUsages>) -> Vec<KeyUsageName> {
        Self::ALL
            .into_iter()
            .filter(|k| flags.contains(k.flag()))
            .collect()
    }
}

/// Validate a keyUsage request and turn it into flags.
///
/// RFC 5280 4.2.1.3: "When the keyUsage extension appears in a certificate, at least one of the
/// bits MUST be set to 1" (so an empty list means "no extension", decided by the caller), and
/// the meaning of encipherOnly / decipherOnly "is undefined in the absence of the keyAgreement
/// bit", so they are refused without it.
pub fn key_usage_flags(
    usages: &[KeyUsageName],
    field: &str,
) -> Result<FlagSet<KeyUsages>, X509Error> {
    let mut flags = FlagSet::<KeyUsages>::default();
    for k in usages {
        flags |= k.flag();
    }
    if (flags.contains(KeyUsages::EncipherOnly) || flags.contains(KeyUsages::DecipherOnly))
        && !flags.contains(KeyUsages::KeyAgreement)
    {
        return Err(X509Error::invalid(
            field,
            "EncipherOnly and DecipherOnly require KeyAgreement (RFC 5280 4.2.1.3)",
        ));
    }
    Ok(flags)
}

/// Refuse key usages an elliptic-curve subject key cannot have. RFC 5480 section 3, as
/// updated by RFC 8813 section 3: in a certificate that indicates id-ecPublicKey, "the
/// following values MUST NOT be present: keyEncipherment; and dataEncipherment" (an EC key
/// signs or agrees keys; it transports none). encipherOnly and decipherOnly without
/// keyAgreement are already refused by [`key_usage_flags`] for every key type.
pub fn check_ec_key_usage(flags: FlagSet<KeyUsages>, field: &str) -> Result<(), X509Error> {
    for (bit, name) in [
        (KeyUsages::KeyEncipherment, KeyUsageName::KeyEncipherment),
        (KeyUsages::DataEncipherment, KeyUsageName::DataEncipherment),
    ] {
        if flags.contains(bit) {
            return Err(X509Error::invalid(
                field,
                format!(
                    "{} is not allowed for an elliptic-curve subject key (RFC 5480 section 3, \
                     updated by RFC 8813)",
                    name.name()
                ),
            ));
        }
    }
    Ok(())
}

/// Parse dotted-decimal EKU OIDs (e.g. ISO/IEC 18013-5 mdlDS `1.0.18013.5.1.2`).
pub fn parse_oids(oids: &[String], field: &str) -> Result<Vec<ObjectIdentifier>, X509Error> {
    if oids.len() > MAX_ALT_NAMES {
        return Err(X509Error::invalid(
            field,
            format!("at most {MAX_ALT_NAMES} entries"),
        ));
    }
    let mut out = Vec::new();
    for (i, s) in oids.iter().enumerate() {
        let oid = ObjectIdentifier::new(s).map_err(|_| {
            X509Error::invalid(
                format!("{field}[{i}]"),
                format!("`{s}` is not a dotted-decimal object identifier"),
            )
        })?;
        if !out.contains(&oid) {
            out.push(oid);
        }
    }
    Ok(out)
}

/// Alternative names by kind, as the API carries them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AltNames {
    pub dns_names: Vec<String>,
    pub uris: Vec<String>,
    pub emails: Vec<String>,
    pub ip_addresses: Vec<String>,
}

impl AltNames {
    pub fn is_empty(&self) -> bool {
        self.dns_names.is_empty()
            && self.uris.is_empty()
            && self.emails.is_empty()
            && self.ip_addresses.is_empty()
    }

    fn len(&self) -> usize {
        self.dns_names.len() + self.uris.len() + self.emails.len() + self.ip_addresses.len()
    }

    /// Validate every entry and encode (`field` is e.g. `subjectAlternativeNames`).
    pub fn to_general_names(&self, field: &str) -> Result<GeneralNames, X509Error> {
        if self.len() > MAX_ALT_NAMES {
            return Err(X509Error::invalid(
                field,
                format!("at most {MAX_ALT_NAMES} names are accepted"),
            ));
        }
        let mut out = GeneralNames::new();
        for (i, d) in self.dns_names.iter().enumerate() {
            let f = format!("{field}.dnsNames[{i}]");
            check_dns_name(d, &f)?;
            out.push(GeneralName::DnsName(ia5(d, &f)?));
        }
        for (i, u) in self.uris.iter().enumerate() {
            let f = format!("{field}.uris[{i}]");
            check_uri(u, &f)?;
            out.push(GeneralName::UniformResourceIdentifier(ia5(u, &f)?));
        }
        for (i, e) in self.emails.iter().enumerate() {
            let f = format!("{field}.emails[{i}]");
            check_email(e, &f)?;
            out.push(GeneralName::Rfc822Name(ia5(e, &f)?));
        }
        for (i, ip) in self.ip_addresses.iter().enumerate() {
            let addr: IpAddr = ip.parse().map_err(|_| {
                X509Error::invalid(
                    format!("{field}.ipAddresses[{i}]"),
                    "must be an IPv4 or IPv6 address",
                )
            })?;
            out.push(GeneralName::from(addr));
        }
        Ok(out)
    }

    /// Read back names made anywhere; kinds other than the four are skipped.
    pub fn from_general_names(names: &[GeneralName]) -> Self {
        let mut out = AltNames::default();
        for n in names {
            match n {
                GeneralName::DnsName(s) => out.dns_names.push(s.to_string()),
                GeneralName::UniformResourceIdentifier(s) => out.uris.push(s.to_string()),
                GeneralName::Rfc822Name(s) => out.emails.push(s.to_string()),
                GeneralName::IpAddress(o) => {
                    let b = o.as_bytes();
                    if let Ok(v4) = <[u8; 4]>::try_from(b) {
                        out.ip_addresses.push(IpAddr::from(v4).to_string());
                    } else if let Ok(v6) = <[u8; 16]>::try_from(b) {
                        out.ip_addresses.push(IpAddr::from(v6).to_string());
                    }
                }
                _ => {}
            }
        }
        out
    }
}

fn ia5(s: &str, field: &str) -> Result<Ia5String, X509Error> {
    Ia5String::new(s).map_err(|_| X509Error::invalid(field, "must be ASCII (IA5String)"))
}

/// RFC 5280 4.2.1.6: dNSName "MUST be in the 'preferred name syntax', as specified by
/// Section 3.5 of [RFC1034]" (LDH labels). A leftmost `*` label is allowed for wildcards.
pub fn check_dns_name(d: &str, field: &str) -> Result<(), X509Error> {
    let bad = |why: &str| Err(X509Error::invalid(field, why.to_string()));
    if d.is_empty() || d.len() > 253 {
        return bad("must be 1 to 253 characters");
    }
    for (i, label) in d.split('.').enumerate() {
        if i == 0 && label == "*" && d.len() > 2 {
            continue;
        }
        if label.is_empty() || label.len() > 63 {
            return bad("every label must be 1 to 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return bad("labels may contain only letters, digits and hyphens");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad("labels must not start or end with a hyphen");
        }
    }
    Ok(())
}

/// RFC 5280 4.2.1.6: "The name MUST NOT be a relative URI, and it MUST follow the URI syntax
/// and encoding rules specified in [RFC3986]. The name MUST include both a scheme ... and a
/// scheme-specific-part."
pub fn check_uri(u: &str, field: &str) -> Result<(), X509Error> {
    let bad = |why: &str| Err(X509Error::invalid(field, why.to_string()));
    if u.len() > MAX_URI_LEN {
        return bad("is too long");
    }
    if !u.bytes().all(|b| b.is_ascii_graphic()) {
        return bad("must be printable ASCII without spaces (percent-encode others)");
    }
    let Some((scheme, rest)) = u.split_once(':') else {
        return bad("must be an absolute URI with a scheme, e.g. https://...");
    };
    let mut sb = scheme.bytes();
    let scheme_ok = sb.next().is_some_and(|b| b.is_ascii_alphabetic())
        && sb.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok {
        return bad("must start with a valid scheme (RFC 3986 3.1)");
    }
    if rest.is_empty() || rest == "//" {
        return bad("must have a scheme-specific part after the scheme");
    }
    Ok(())
}

/// RFC 5280 4.2.1.6: rfc822Name is a "Mailbox" (RFC 5321 4.1.2): local-part@domain.
pub fn check_email(e: &str, field: &str) -> Result<(), X509Error> {
    let bad = |why: &str| Err(X509Error::invalid(field, why.to_string()));
    if e.len() > 320 {
        return bad("is too long");
    }
    let mut parts = e.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return bad("must contain exactly one @");
    };
    if local.is_empty() || local.len() > 64 || !local.bytes().all(|b| b.is_ascii_graphic()) {
        return bad("must have a non-empty ASCII local part before @");
    }
    check_dns_name(domain, field)
}

/// cRLDistributionPoints with one DistributionPoint naming one URI (RFC 5280 4.2.1.13; the
/// form ISO/IEC 18013-5 B.1.1 requires of IACA-issued certificates).
pub fn crl_distribution_points(uri: &str, field: &str) -> Result<CrlDistributionPoints, X509Error> {
    check_uri(uri, field)?;
    Ok(CrlDistributionPoints(vec![DistributionPoint {
        distribution_point: Some(DistributionPointName::FullName(vec![
            GeneralName::UniformResourceIdentifier(ia5(uri, field)?),
        ])),
        reasons: None,
        crl_issuer: None,
    }]))
}

/// An extension as a plain value: built by us, ready to add to a certificate or CSR.
pub(crate) fn extension<T: AssociatedOid + Encode>(
    critical: bool,
    value: &T,
) -> Result<Extension, X509Error> {
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der().map_err(enc)?).map_err(enc)?,
    })
}

/// The OIDs that occur more than once. RFC 5280 4.2: "A certificate MUST NOT include more
/// than one instance of a particular extension."
pub fn duplicate_extensions(exts: &[Extension]) -> Vec<ObjectIdentifier> {
    let mut dups: Vec<ObjectIdentifier> = Vec::new();
    for (i, e) in exts.iter().enumerate() {
        if exts[..i].iter().any(|p| p.extn_id == e.extn_id) && !dups.contains(&e.extn_id) {
            dups.push(e.extn_id);
        }
    }
    dups
}

/// An extension's criticality and decoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found<T> {
    pub critical: bool,
    pub value: T,
}

/// Find and decode the one extension of type `T`. Duplicates are an error (RFC 5280 4.2).
pub fn find<T>(exts: &[Extension]) -> Result<Option<Found<T>>, X509Error>
where
    T: AssociatedOid + for<'a> Decode<'a>,
{
    let mut it = exts.iter().filter(|e| e.extn_id == T::OID);
    let Some(e) = it.next() else { return Ok(None) };
    if it.next().is_some() {
        return Err(X509Error::invalid(
            "extensions",
            format!("extension {} appears more than once (RFC 5280 4.2)", T::OID),
        ));
    }
    let value = T::from_der(e.extn_value.as_bytes())
        .map_err(|err| X509Error::malformed("extension", format!("{}: {err}", T::OID)))?;
    Ok(Some(Found {
        critical: e.critical,
        value,
    }))
}

/// Typed accessors over an extension list (of a certificate or a CSR's extensionRequest).
#[derive(Debug, Clone, Copy)]
pub struct ExtensionView<'a>(pub &'a [Extension]);

impl ExtensionView<'_> {
    pub fn basic_constraints(&self) -> Result<Option<Found<BasicConstraints>>, X509Error> {
        find(self.0)
    }

    pub fn key_usage(&self) -> Result<Option<Found<Vec<KeyUsageName>>>, X509Error> {
        Ok(find::<KeyUsage>(self.0)?.map(|f| Found {
            critical: f.critical,
            value: KeyUsageName::from_flags(f.value.0),
        }))
    }

    pub fn extended_key_usage(&self) -> Result<Option<Found<Vec<ObjectIdentifier>>>, X509Error> {
        Ok(find::<ExtendedKeyUsage>(self.0)?.map(|f| Found {
            critical: f.critical,
            value: f.value.0,
        }))
    }

    pub fn subject_key_identifier(&self) -> Result<Option<Vec<u8>>, X509Error> {
        Ok(find::<SubjectKeyIdentifier>(self.0)?.map(|f| f.value.0.as_bytes().to_vec()))
    }

    /// The keyIdentifier of the authorityKeyIdentifier, when present.
    pub fn authority_key_identifier(&self) -> Result<Option<Vec<u8>>, X509Error> {
        Ok(find::<AuthorityKeyIdentifier>(self.0)?
            .and_then(|f| f.value.key_identifier)
            .map(|k| k.as_bytes().to_vec()))
    }

    pub fn subject_alt_names(&self) -> Result<Option<Found<AltNames>>, X509Error> {
        Ok(find::<SubjectAltName>(self.0)?.map(|f| Found {
            critical: f.critical,
            value: AltNames::from_general_names(&f.value.0),
        }))
    }

    pub fn issuer_alt_names(&self) -> Result<Option<Found<AltNames>>, X509Error> {
        Ok(find::<IssuerAltName>(self.0)?.map(|f| Found {
            critical: f.critical,
            value: AltNames::from_general_names(&f.value.0),
        }))
    }

    /// The RFC 5280 constraints on extension values that x509-cert's decoders do not check:
    /// every `SEQUENCE SIZE (1..MAX) OF` below decodes into a plain `Vec`, so an empty
    /// SEQUENCE is accepted by the parser although the ASN.1 module forbids it (pkilint
    /// reports each as an ERROR). Checked on certificates uploaded to us; our own builders
    /// never emit an empty list (`AltNames::is_empty` means "no extension").
    pub fn check_sizes(&self) -> Result<(), X509Error> {
        let empty = |what: &str, asn1: &str| {
            Err(X509Error::invalid(
                "extensions",
                format!("{what} is an empty SEQUENCE; RFC 5280 defines it as {asn1}"),
            ))
        };
        const GN: &str = "GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName (4.2.1.6)";
        if find::<SubjectAltName>(self.0)?.is_some_and(|f| f.value.0.is_empty()) {
            return empty("subjectAltName", GN);
        }
        if find::<IssuerAltName>(self.0)?.is_some_and(|f| f.value.0.is_empty()) {
            return empty("issuerAltName", GN);
        }
        if find::<ExtendedKeyUsage>(self.0)?.is_some_and(|f| f.value.0.is_empty()) {
            return empty(
                "extKeyUsage",
                "ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId (4.2.1.12)",
            );
        }
        if let Some(f) = find::<CertificatePolicies>(self.0)? {
            if f.value.0.is_empty() {
                return empty(
                    "certificatePolicies",
                    "SEQUENCE SIZE (1..MAX) OF PolicyInformation (4.2.1.4)",
                );
            }
            if f.value
                .0
                .iter()
                .any(|p| p.policy_qualifiers.as_ref().is_some_and(Vec::is_empty))
            {
                return empty(
                    "certificatePolicies policyQualifiers",
                    "SEQUENCE SIZE (1..MAX) OF PolicyQualifierInfo (4.2.1.4)",
                );
            }
        }
        if find::<AuthorityInfoAccessSyntax>(self.0)?.is_some_and(|f| f.value.0.is_empty()) {
            return empty(
                "authorityInfoAccess",
                "SEQUENCE SIZE (1..MAX) OF AccessDescription (4.2.2.1)",
            );
        }
        let crl_dps = [
            (
                "cRLDistributionPoints",
                find::<CrlDistributionPoints>(self.0)?.map(|f| f.value.0),
            ),
            (
                "freshestCRL",
                find::<FreshestCrl>(self.0)?.map(|f| f.value.0),
            ),
        ];
        for (what, dps) in crl_dps {
            let Some(dps) = dps else { continue };
            if dps.is_empty() {
                return empty(
                    what,
                    "SEQUENCE SIZE (1..MAX) OF DistributionPoint (4.2.1.13)",
                );
            }
            for dp in &dps {
                if matches!(&dp.distribution_point, Some(DistributionPointName::FullName(n)) if n.is_empty())
                {
                    return empty(&format!("{what} fullName"), GN);
                }
                if dp.crl_issuer.as_ref().is_some_and(Vec::is_empty) {
                    return empty(&format!("{what} cRLIssuer"), GN);
                }
                // RFC 5280 4.2.1.13: "a DistributionPoint MUST NOT consist of only the
                // reasons field; either distributionPoint or cRLIssuer MUST be present."
                if dp.distribution_point.is_none() && dp.crl_issuer.is_none() {
                    return Err(X509Error::invalid(
                        "extensions",
                        format!(
                            "{what}: a DistributionPoint needs a distributionPoint or a \
                             cRLIssuer (RFC 5280 4.2.1.13)"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The URIs of all fullName distribution points.
    pub fn crl_distribution_uris(&self) -> Result<Option<Vec<String>>, X509Error> {
        Ok(find::<CrlDistributionPoints>(self.0)?.map(|f| {
            f.value
                .0
                .iter()
                .filter_map(|dp| match &dp.distribution_point {
                    Some(DistributionPointName::FullName(names)) => Some(names),
                    _ => None,
                })
                .flatten()
                .filter_map(|n| match n {
                    GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
                    _ => None,
                })
                .collect()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_usage_names() {
        let names: Vec<String> = ["DigitalSignature", "ContentCommitment", "CRLSign"]
            .map(String::from)
            .to_vec();
        let parsed = KeyUsageName::parse_list(&names, "keyUsage").unwrap();
        assert_eq!(
            parsed,
            [
                KeyUsageName::DigitalSignature,
                KeyUsageName::NonRepudiation,
                KeyUsageName::CrlSign
            ]
        );
        let err = KeyUsageName::parse_list(&["digitalSignature".into()], "keyUsage").unwrap_err();
        assert_eq!(err.field(), Some("keyUsage[0]"));
        assert!(key_usage_flags(&[KeyUsageName::EncipherOnly], "keyUsage").is_err());
        assert!(
            key_usage_flags(
                &[KeyUsageName::EncipherOnly, KeyUsageName::KeyAgreement],
                "keyUsage"
            )
            .is_ok()
        );
        assert!(key_usage_flags(&[KeyUsageName::DecipherOnly], "keyUsage").is_err());
    }

    #[test]
    fn ec_key_usage() {
        for bad in [
            KeyUsageName::KeyEncipherment,
            KeyUsageName::DataEncipherment,
        ] {
            let flags = key_usage_flags(&[KeyUsageName::DigitalSignature, bad], "ku").unwrap();
            let err = check_ec_key_usage(flags, "ku").unwrap_err();
            assert_eq!(err.field(), Some("ku"));
            assert!(err.to_string().contains(bad.name()), "{err}");
        }
        let ok = key_usage_flags(
            &[
                KeyUsageName::DigitalSignature,
                KeyUsageName::NonRepudiation,
                KeyUsageName::KeyAgreement,
                KeyUsageName::EncipherOnly,
                KeyUsageName::KeyCertSign,
                KeyUsageName::CrlSign,
            ],
            "ku",
        )
        .unwrap();
        check_ec_key_usage(ok, "ku").unwrap();
    }

    #[test]
    fn alt_name_validation() {
        let ok = AltNames {
            dns_names: vec!["example.com".into(), "*.a-b.example".into()],
            uris: vec!["https://x.example/a?b".into(), "urn:isbn:123".into()],
            emails: vec!["a.b@example.com".into()],
            ip_addresses: vec!["192.0.2.1".into(), "2001:db8::1".into()],
        };
        let gn = ok.to_general_names("san").unwrap();
        assert_eq!(AltNames::from_general_names(&gn), ok);

        let cases: [(AltNames, &str); 8] = [
            (
                AltNames {
                    dns_names: vec!["-a.example".into()],
                    ..Default::default()
                },
                "san.dnsNames[0]",
            ),
            (
                AltNames {
                    dns_names: vec!["a..example".into()],
                    ..Default::default()
                },
                "san.dnsNames[0]",
            ),
            (
                AltNames {
                    dns_names: vec!["a_b.example".into()],
                    ..Default::default()
                },
                "san.dnsNames[0]",
            ),
            (
                AltNames {
                    uris: vec!["/relative".into()],
                    ..Default::default()
                },
                "san.uris[0]",
            ),
            (
                AltNames {
                    uris: vec!["1http://x".into()],
                    ..Default::default()
                },
                "san.uris[0]",
            ),
            (
                AltNames {
                    emails: vec!["a@b@c".into()],
                    ..Default::default()
                },
                "san.emails[0]",
            ),
            (
                AltNames {
                    emails: vec!["nobody".into()],
                    ..Default::default()
                },
                "san.emails[0]",
            ),
            (
                AltNames {
                    ip_addresses: vec!["300.1.1.1".into()],
                    ..Default::default()
                },
                "san.ipAddresses[0]",
            ),
        ];
        for (names, field) in cases {
            let err = names.to_general_names("san").unwrap_err();
            assert_eq!(err.field(), Some(field), "{names:?}");
        }
        let many = AltNames {
            dns_names: vec!["a.example".into(); MAX_ALT_NAMES + 1],
            ..Default::default()
        };
        assert!(many.to_general_names("san").is_err());
    }

    #[test]
    fn eku_oids() {
        let oids = parse_oids(&["1.0.18013.5.1.2".into()], "eku").unwrap();
        assert_eq!(oids[0].to_string(), "1.0.18013.5.1.2");
        assert_eq!(
            parse_oids(&["1.0.x".into()], "eku").unwrap_err().field(),
            Some("eku[0]")
        );
        assert!(parse_oids(&["".into()], "eku").is_err());
    }
}
