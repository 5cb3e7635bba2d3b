//! The hop-2 replication login's password: set from the Secret, rotated when the
//! Secret changes, idempotently.
//!
//! The password never travels in clear in a statement: regionstack computes a
//! SCRAM-SHA-256 verifier (RFC 5802/7677, 4096 iterations, random salt) and runs
//! `ALTER ROLE … PASSWORD '<verifier>'`, which PostgreSQL stores as is, so
//! `log_statement` shows no password. Whether a rotation is needed is decided by
//! recomputing the stored verifier's keys from the desired password with the stored
//! salt and iteration count (`pg_authid.rolpassword`, read as superuser): equal keys,
//! no statement. Passwords are used as UTF-8 bytes (no SASLprep): a non-ASCII
//! password that SASLprep would change still authenticates with clients that skip
//! it, and at worst is re-set on each apply.

use sha2::{Digest, Sha256};

use super::Exec;
use crate::conn::Password;
use crate::error::SqlError;
use crate::ident::{quote_ident, quote_literal};

const ITERATIONS: u32 = 4096;
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|&c| c != b'=') {
        let v = u32::try_from(B64.iter().position(|&x| x == c)?).ok()?;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let (mut inner, mut outer) = (Sha256::new(), Sha256::new());
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// `(StoredKey, ServerKey)` of `password` with `salt` and `iterations`.
fn keys(password: &[u8], salt: &[u8], iterations: u32) -> ([u8; 32], [u8; 32]) {
    let mut u = hmac(password, &[salt, &1u32.to_be_bytes()].concat());
    let mut salted = u;
    for _ in 1..iterations {
        u = hmac(password, &u);
        for (s, x) in salted.iter_mut().zip(u) {
            *s ^= x;
        }
    }
    let stored: [u8; 32] = Sha256::digest(hmac(&salted, b"Client Key")).into();
    (stored, hmac(&salted, b"Server Key"))
}

/// Whether the stored `rolpassword` is a SCRAM verifier of `password`.
pub fn verifier_matches(stored: &str, password: &str) -> bool {
    let parse = || -> Option<bool> {
        let rest = stored.strip_prefix("SCRAM-SHA-256$")?;
        let (params, keys_part) = rest.split_once('$')?;
        let (iter, salt) = params.split_once(':')?;
        let (stored_key, server_key) = keys_part.split_once(':')?;
        let (s, v) = keys(password.as_bytes(), &b64_decode(salt)?, iter.parse().ok()?);
        Some(b64_encode(&s) == stored_key && b64_encode(&v) == server_key)
    };
    parse().unwrap_or(false)
}

/// A SCRAM-SHA-256 verifier of `password` with a fresh random salt.
pub fn verifier(password: &str) -> Result<String, SqlError> {
    let mut salt = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut salt))
        .map_err(|e| SqlError::Invalid(format!("cannot read random bytes for a password salt: {e}")))?;
    let (s, v) = keys(password.as_bytes(), &salt, ITERATIONS);
    Ok(format!("SCRAM-SHA-256${ITERATIONS}:{}${}:{}", b64_encode(&salt), b64_encode(&s), b64_encode(&v)))
}

/// Set `login`'s password to `password` unless it already is (no statement then).
/// The recorded statement shows `****`.
pub(crate) async fn ensure_password(ex: &mut Exec<'_>, login: &str, password: &Password) -> Result<(), SqlError> {
    let row = ex
        .client
        .query_opt("SELECT coalesce(rolpassword, '') FROM pg_authid WHERE rolname = $1", &[&login])
        .await
        .map_err(SqlError::query("reading the replication login's verifier"))?;
    let Some(row) = row else { return Ok(()) };
    if verifier_matches(&row.get::<_, String>(0), password.expose()) {
        return Ok(());
    }
    let make = |v: &str| format!("ALTER ROLE {} PASSWORD {}", quote_ident(login), quote_literal(v));
    ex.run_redacted(
        &format!("rotate the password of replication login {login}"),
        &make(&verifier(password.expose())?),
        &make("****"),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_round_trip_and_rfc7677_vector() {
        // RFC 7677 §3: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096.
        let salt = b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let (_, server) = keys(b"pencil", &salt, 4096);
        // ServerSignature = HMAC(ServerKey, AuthMessage) from the RFC's exchange.
        let auth = "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        assert_eq!(b64_encode(&hmac(&server, auth.as_bytes())), "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
        let v = verifier("s3cret 'x'").unwrap();
        assert!(verifier_matches(&v, "s3cret 'x'"));
        assert!(!verifier_matches(&v, "s3cret 'y'"));
        assert!(!verifier_matches("md5abc", "x"));
        assert_eq!(b64_decode(&b64_encode(b"ab")).unwrap(), b"ab");
    }
}
