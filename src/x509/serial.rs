//! Certificate serial numbers.
//!
//! RFC 5280 4.1.2.2: "The serial number MUST be a positive integer ... Conforming CAs MUST NOT
//! use serialNumber values longer than 20 octets." CA/B Forum BR 7.1: "CAs SHALL generate
//! non-sequential Certificate serial numbers greater than zero (0) containing at least 64 bits
//! of output from a CSPRNG." We draw 16 bytes from the OS-seeded CSPRNG and clear the top bit,
//! leaving 127 random bits: always positive, never more than 16 content octets, and no sign
//! padding octet is ever needed.

use rand::Rng;
use x509_cert::serial_number::SerialNumber;

use super::error::{X509Error, enc};

/// Number of random octets in a serial.
pub const SERIAL_LEN: usize = 16;

/// A fresh random serial number.
pub fn random_serial() -> Result<SerialNumber, X509Error> {
    serial_from_rng(&mut rand::rng())
}

/// As [`random_serial`], drawing from `rng` (which must be a CSPRNG outside tests).
pub fn serial_from_rng<R: Rng + ?Sized>(rng: &mut R) -> Result<SerialNumber, X509Error> {
    let mut buf = [0u8; SERIAL_LEN];
    loop {
        rng.fill_bytes(&mut buf);
        buf[0] &= 0x7f;
        // A zero first octet would be stripped by the INTEGER encoding and shorten the serial,
        // which linters (zlint "serial number low entropy") flag; draw again (p = 2^-7).
        if buf[0] != 0 {
            break;
        }
    }
    SerialNumber::new(&buf).map_err(enc)
}

/// Lowercase hex of a serial's content octets (how the API and database name certificates).
pub fn serial_hex(serial: &SerialNumber) -> String {
    super::hex(serial.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Encode;

    #[test]
    fn serials_are_positive_short_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let s = random_serial().unwrap();
            let bytes = s.as_bytes();
            assert_eq!(bytes.len(), SERIAL_LEN);
            assert!(bytes[0] != 0 && bytes[0] & 0x80 == 0);
            // DER INTEGER: tag, length, content; no 0x00 sign pad since the top bit is clear.
            let der = s.to_der().unwrap();
            assert_eq!(der.len(), 2 + SERIAL_LEN);
            assert!(der[2] & 0x80 == 0, "must encode as a positive INTEGER");
            assert!(der.len() - 2 <= 20);
            assert!(seen.insert(bytes.to_vec()));
        }
    }
}
