//! The address guard: which addresses a redirect may lead to.
//!
//! In: IP addresses (the one a redirecting response came from, the ones the next hop resolves
//! to) and whether the source allows private addresses. Out: whether the hop may be taken
//! ([`Policy::hop_allowed`]), what kind of non-public address an address is ([`non_public`]), and a
//! resolver ([`PublicOnly`]) that gives an HTTP client only public addresses, so the check is
//! made on the addresses actually connected to (a name that resolves to a public address when
//! checked and to a private one when connected, DNS rebinding, cannot slip through).
//!
//! The rule: a source's own URL may be anywhere (operators list intranet feeds); a redirect
//! from a public address to a loopback, private, link-local, unique-local, shared (CGNAT),
//! unspecified, multicast or reserved address is refused unless `allow_private` is set. A
//! redirect from a non-public address may go anywhere: it stays inside the network the
//! operator pointed feedfold at.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why an address is not public, or `None` for a public one.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return non_public_v4(v4);
            }
            let s = v6.segments();
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if s[0] & 0xfe00 == 0xfc00 {
                Some("unique local (fc00::/7)")
            } else if s[0] & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if s[0] & 0xffc0 == 0xfec0 {
                Some("site-local")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                // NAT64: the IPv4 address in the last 32 bits is the one reached.
                non_public_v4(Ipv4Addr::from(u32::from(s[6]) << 16 | u32::from(s[7])))
            } else if s[..6] == [0; 6] {
                // IPv4-compatible (deprecated): `::a.b.c.d`.
                non_public_v4(Ipv4Addr::from(u32::from(s[6]) << 16 | u32::from(s[7])))
            } else {
                None
            }
        }
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if a == 0 {
        Some("unspecified")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (CGNAT)")
    } else if ip.is_broadcast() || a >= 240 {
        Some("reserved")
    } else if ip.is_multicast() {
        Some("multicast")
    } else {
        None
    }
}

/// A next hop's address refused by the guard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{host}` is {ip}, {} {kind} address", if *kind == "unspecified" { "an" } else { "a" })]
pub struct Refused {
    /// The host name or address of the next hop.
    pub host: String,
    /// The address it resolved to.
    pub ip: IpAddr,
    /// What kind of non-public address it is.
    pub kind: &'static str,
}

/// Which addresses count as public: every address [`non_public`] does not name, plus stand-ins.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    stand_ins: Arc<Vec<IpAddr>>,
}

impl Policy {
    /// A policy under which `stand_ins` count as public addresses. Tests, which can only reach
    /// loopback, use a second loopback address (127.0.0.2) as the public host a redirect starts
    /// from.
    pub fn with_stand_ins(stand_ins: Vec<IpAddr>) -> Policy {
        Policy {
            stand_ins: Arc::new(stand_ins),
        }
    }

    /// Why `ip` is not public under this policy, or `None` if it is.
    pub fn non_public(&self, ip: IpAddr) -> Option<&'static str> {
        if self.stand_ins.contains(&ip) {
            None
        } else {
            non_public(ip)
        }
    }

    /// Whether a redirect from `from` (the address the redirecting response came from) must lead
    /// to a public address: unless `allow_private`, it must if `from` is public.
    pub fn guards(&self, from: IpAddr, allow_private: bool) -> bool {
        !allow_private && self.non_public(from).is_none()
    }

    /// Whether a redirect from `from` to `to` may be followed.
    pub fn hop_allowed(&self, from: IpAddr, to: IpAddr, allow_private: bool) -> bool {
        !self.guards(from, allow_private) || self.non_public(to).is_none()
    }

    /// Checks a next hop given as an address (no name to resolve): `Err` if it is not public.
    pub fn check_literal(&self, host: &str, ip: IpAddr) -> Result<(), Refused> {
        match self.non_public(ip) {
            None => Ok(()),
            Some(kind) => Err(Refused {
                host: host.to_string(),
                ip,
                kind,
            }),
        }
    }
}

/// A resolver that returns only public addresses (under its [`Policy`]), and fails with
/// [`Refused`] for a name that has none.
#[derive(Debug, Clone, Default)]
pub struct PublicOnly {
    /// The policy applied.
    pub policy: Policy,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| policy.non_public(a.ip()).is_none())
                .collect();
            match (public.is_empty(), all.first()) {
                (true, Some(first)) => Err(Box::new(Refused {
                    host,
                    ip: first.ip(),
                    kind: policy.non_public(first.ip()).unwrap_or("non-public"),
                }) as Box<dyn std::error::Error + Send + Sync>),
                _ => Ok(Box::new(public.into_iter()) as Addrs),
            }
        })
    }
}

/// The address of a URL host written as an IP literal (`127.0.0.1`, `[::1]`).
pub fn literal_ip(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn non_public_ranges_are_named() {
        for (addr, kind) in [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("100.64.0.1", "shared (CGNAT)"),
            ("100.127.255.254", "shared (CGNAT)"),
            ("255.255.255.255", "reserved"),
            ("240.0.0.1", "reserved"),
            ("224.0.0.1", "multicast"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fc00::1", "unique local (fc00::/7)"),
            ("fd12:3456::1", "unique local (fc00::/7)"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("64:ff9b::a00:1", "private"),
            ("::7f00:1", "loopback"),
        ] {
            assert_eq!(non_public(ip(addr)), Some(kind), "{addr}");
        }
        for addr in [
            "8.8.8.8",
            "1.1.1.1",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.0.1",
            "192.169.0.1",
            "2001:4860:4860::8888",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "fbff::1",
            "fe00::1",
        ] {
            assert_eq!(non_public(ip(addr)), None, "{addr}");
        }
    }

    #[test]
    fn a_redirect_from_public_to_private_needs_allow_private() {
        let public = ip("93.184.216.34");
        let other_public = ip("2606:4700::1111");
        let intranet = ip("10.0.0.5");
        let metadata = ip("169.254.169.254");
        let loopback = ip("::1");
        let hop_allowed = |from, to, allow| Policy::default().hop_allowed(from, to, allow);
        assert!(hop_allowed(public, other_public, false));
        assert!(!hop_allowed(public, intranet, false));
        assert!(!hop_allowed(public, metadata, false));
        assert!(!hop_allowed(other_public, loopback, false));
        assert!(!hop_allowed(public, ip("::ffff:127.0.0.1"), false));
        assert!(hop_allowed(public, intranet, true));
        assert!(hop_allowed(public, metadata, true));
        // Inside a private network, redirects stay allowed, and may leave it.
        assert!(hop_allowed(intranet, loopback, false));
        assert!(hop_allowed(intranet, public, false));
    }

    #[test]
    fn stand_ins_count_as_public() {
        let policy = Policy::with_stand_ins(vec![ip("127.0.0.2")]);
        assert_eq!(policy.non_public(ip("127.0.0.2")), None);
        assert_eq!(policy.non_public(ip("127.0.0.1")), Some("loopback"));
        let refused = policy
            .check_literal("127.0.0.1", ip("127.0.0.1"))
            .expect_err("loopback is refused");
        assert_eq!(
            refused.to_string(),
            "`127.0.0.1` is 127.0.0.1, a loopback address"
        );
        assert!(policy.check_literal("127.0.0.2", ip("127.0.0.2")).is_ok());
    }

    #[tokio::test]
    async fn the_resolver_gives_no_private_address() {
        let resolver = PublicOnly::default();
        let name: Name = "localhost".parse().expect("name");
        let err = match resolver.resolve(name).await {
            Ok(addrs) => panic!("localhost resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e,
        };
        let refused = err.downcast_ref::<Refused>().expect("a Refused error");
        assert_eq!(refused.kind, "loopback");
        assert_eq!(refused.host, "localhost");
    }
}
