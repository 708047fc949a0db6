//! The address guard: which addresses a fetch may connect to.
//!
//! In: the IP addresses a hop would connect to (an address literal in its URL, or what its host
//! name resolves to) and the [`Rule`] for that hop. Out: whether the hop may be taken
//! ([`Policy::check`]), what kind of address an address is ([`non_public`], [`never`]), and a
//! resolver ([`Guarded`]) that gives an HTTP client only the addresses a rule allows, so the
//! check is made on the addresses actually connected to (a name that resolves to a public
//! address when checked and to a private one when connected, DNS rebinding, cannot slip
//! through).
//!
//! The rules, for every source and every hop of a fetch (its own URL, each redirect, an HTML
//! page's feed link):
//! - **never**: link-local (169.254/16, fe80::/10), cloud metadata (169.254.169.254,
//!   fd00:ec2::254, 100.100.100.200, 168.63.129.16) and unspecified (0/8, `::`) addresses are not
//!   connected to, in any spelling (IPv4-mapped, IPv4-compatible, NAT64 and 6to4 IPv6; decimal,
//!   octal and hex IPv4, which the URL parser reads as the same address), unless the source's
//!   own URL names that exact address as a literal. `allow_private` does not change this.
//! - **redirects stay public**: a redirect (or feed link) to a loopback, private, unique-local,
//!   site-local, shared (CGNAT), multicast or reserved address is refused, whatever host sent
//!   it, unless the source sets `allow_private` (or `[fetch] allow_private`).
//! - a source's own URL may name any other address: operators list intranet feeds.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Cloud metadata services outside the link-local range: AWS's IPv6 endpoint, Alibaba Cloud's,
/// Azure's wire server.
const METADATA: [IpAddr; 3] = [
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
    IpAddr::V4(Ipv4Addr::new(168, 63, 129, 16)),
];

/// The IPv4 address an IPv6 address stands for, when it embeds one: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`, deprecated), NAT64 (`64:ff9b::/96`, and
/// the local-use `64:ff9b:1::/48`) and 6to4 (`2002:AABB:CCDD::/48`).
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let v4 = |hi: u16, lo: u16| Some(Ipv4Addr::from(u32::from(hi) << 16 | u32::from(lo)));
    match v6.segments() {
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] | [0x64, 0xff9b, 1, _, _, _, hi, lo] => v4(hi, lo),
        // `::` and `::1` are IPv6's own unspecified and loopback addresses.
        [0, 0, 0, 0, 0, 0, hi, lo] if (hi, lo) > (0, 1) => v4(hi, lo),
        [0x2002, hi, lo, ..] => v4(hi, lo),
        _ => None,
    }
}

/// Why an address is never connected to (link-local, cloud metadata, unspecified), or `None`.
pub fn never(ip: IpAddr) -> Option<&'static str> {
    if METADATA.contains(&ip) || ip == IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)) {
        return Some("cloud metadata");
    }
    match ip {
        IpAddr::V4(v4) => {
            if v4.is_link_local() {
                Some("link-local")
            } else if v4.octets()[0] == 0 {
                Some("unspecified")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if v6.is_unspecified() {
                Some("unspecified")
            } else if v6.segments()[0] & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else {
                embedded_v4(v6).and_then(|v4| never(IpAddr::V4(v4)))
            }
        }
    }
}

/// Why an address is not public, or `None` for a public one. Every address [`never`] names is
/// non-public too.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    if let Some(kind) = never(ip) {
        return Some(kind);
    }
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return non_public_v4(v4);
            }
            let s = v6.segments();
            if v6.is_loopback() {
                Some("loopback")
            } else if s[0] & 0xfe00 == 0xfc00 {
                Some("unique local (fc00::/7)")
            } else if s[0] & 0xffc0 == 0xfec0 {
                Some("site-local")
            } else if v6.is_multicast() {
                Some("multicast")
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

/// An address refused by the guard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{host}` is {ip}, {} {kind} address{}", article(kind), if *never { ", which is never fetched unless the source's URL names that exact address" } else { "" })]
pub struct Refused {
    /// The host name or address of the hop.
    pub host: String,
    /// The address it resolved to.
    pub ip: IpAddr,
    /// What kind of address it is.
    pub kind: &'static str,
    /// Whether it is of a kind never connected to (`allow_private` does not help).
    pub never: bool,
}

fn article(kind: &str) -> &'static str {
    // Of the kinds above, only "unspecified" takes "an" ("a unique local address").
    if kind == "unspecified" { "an" } else { "a" }
}

/// What one hop of a fetch may connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Whether non-public addresses may be reached: always for a source's own URL; for
    /// redirects and feed links only with `allow_private`.
    pub private: bool,
    /// The address the source's own URL names as a literal, if any: the one address of a kind
    /// [`never`] names that may be connected to.
    pub named: Option<IpAddr>,
}

impl Rule {
    /// The rule for a source's own URL (`start`): anything but what is never fetched.
    pub fn own(start: &url::Url) -> Rule {
        Rule {
            private: true,
            named: literal_ip(start),
        }
    }

    /// The rule for a redirect or feed link of a source whose own URL is `start`.
    pub fn redirect(start: &url::Url, allow_private: bool) -> Rule {
        Rule {
            private: allow_private,
            named: literal_ip(start),
        }
    }
}

/// Which addresses count as public: every address [`non_public`] does not name, plus stand-ins.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    stand_ins: Arc<Vec<IpAddr>>,
}

impl Policy {
    /// A policy under which `stand_ins` count as public addresses. Tests, which can only reach
    /// loopback, use a second loopback address (127.0.0.2) as a public host.
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

    /// Whether a hop under `rule` may connect to `ip`; `Err` names why not.
    pub fn check(&self, host: &str, ip: IpAddr, rule: Rule) -> Result<(), Refused> {
        let refused = |kind, never| Refused {
            host: host.to_string(),
            ip,
            kind,
            never,
        };
        if let Some(kind) = never(ip)
            && rule.named != Some(ip)
        {
            return Err(refused(kind, true));
        }
        match self.non_public(ip) {
            Some(kind) if !rule.private => Err(refused(kind, false)),
            _ => Ok(()),
        }
    }

    /// The addresses of `all` a hop under `rule` may connect to, or why there are none.
    pub fn filter(&self, host: &str, all: &[SocketAddr], rule: Rule) -> Result<Vec<SocketAddr>, Refused> {
        let mut first_refusal = None;
        let allowed: Vec<SocketAddr> = all
            .iter()
            .copied()
            .filter(|a| match self.check(host, a.ip(), rule) {
                Ok(()) => true,
                Err(r) => {
                    first_refusal.get_or_insert(r);
                    false
                }
            })
            .collect();
        match first_refusal {
            Some(refused) if allowed.is_empty() => Err(refused),
            _ => Ok(allowed),
        }
    }
}

/// A resolver that gives an HTTP client only the addresses its [`Rule`] allows (under its
/// [`Policy`]), and fails with [`Refused`] for a name that has none. Names never get the
/// exception for a named address: that is for literals, which no resolver sees.
#[derive(Debug, Clone)]
pub struct Guarded {
    /// The policy applied.
    pub policy: Policy,
    /// Whether non-public addresses may be returned.
    pub private: bool,
}

impl Resolve for Guarded {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let rule = Rule {
            private: self.private,
            named: None,
        };
        Box::pin(async move {
            let host = name.as_str().to_string();
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            match policy.filter(&host, &all, rule) {
                Ok(allowed) => Ok(Box::new(allowed.into_iter()) as Addrs),
                Err(refused) => Err(Box::new(refused) as Box<dyn std::error::Error + Send + Sync>),
            }
        })
    }
}

/// The loopback address a URL's host name stands for when it is `localhost` or a name under
/// it (RFC 6761: such names are always loopback), for a hop whose name no resolver of ours
/// sees (through a proxy).
pub fn localhost(url: &url::Url) -> Option<IpAddr> {
    let url::Host::Domain(name) = url.host()? else {
        return None;
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    (name == "localhost" || name.ends_with(".localhost")).then_some(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// The address of a URL host written as an IP literal (`127.0.0.1`, `[::1]`, and every spelling
/// the URL parser reads as one: `2130706433`, `0x7f.1`).
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
            ("169.254.169.254", "cloud metadata"),
            ("169.254.1.1", "link-local"),
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
            ("::ffff:169.254.169.254", "cloud metadata"),
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

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).expect("url")
    }

    #[test]
    fn never_fetched_in_any_spelling() {
        for (addr, kind) in [
            ("169.254.169.254", "cloud metadata"),
            ("169.254.0.1", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("::", "unspecified"),
            ("fe80::1", "link-local"),
            ("fd00:ec2::254", "cloud metadata"),
            ("100.100.100.200", "cloud metadata"),
            ("168.63.129.16", "cloud metadata"),
            ("::ffff:169.254.169.254", "cloud metadata"),
            ("::ffff:a9fe:1", "link-local"),
            ("::169.254.169.254", "cloud metadata"),
            ("64:ff9b::a9fe:a9fe", "cloud metadata"),
            ("64:ff9b:1::a9fe:a9fe", "cloud metadata"),
            ("2002:a9fe:a9fe::1", "cloud metadata"),
            ("::ffff:0.0.0.0", "unspecified"),
        ] {
            assert_eq!(never(ip(addr)), Some(kind), "{addr}");
            assert_eq!(non_public(ip(addr)), Some(kind), "{addr}");
        }
        for addr in [
            "127.0.0.1",
            "10.0.0.1",
            "::1",
            "fc00::1",
            "8.8.8.8",
            "100.64.0.1",
            "2002:808:808::1",
        ] {
            assert_eq!(never(ip(addr)), None, "{addr}");
        }
        // The URL parser reads every IPv4 spelling as the one address: decimal, hex, octal,
        // short forms.
        for spelling in [
            "http://2852039166/",
            "http://0xa9fea9fe/",
            "http://0xA9.0xFE.0xA9.0xFE/",
            "http://0251.0376.0251.0376/",
            "http://169.254.43518/",
            "http://[::ffff:169.254.169.254]/",
            "http://[0:0:0:0:0:ffff:a9fe:a9fe]/",
        ] {
            let at = literal_ip(&url(spelling)).expect(spelling);
            assert_eq!(never(at), Some("cloud metadata"), "{spelling}");
        }
        assert_eq!(literal_ip(&url("http://0/")), Some(ip("0.0.0.0")));
    }

    #[test]
    fn the_rules_for_a_source_url_and_its_redirects() {
        let policy = Policy::default();
        let check = |to: &str, rule: Rule| policy.check("h", ip(to), rule);
        let named_host = url("http://feeds.example/rss");
        let own = Rule::own(&named_host);
        let redirect = Rule::redirect(&named_host, false);
        let allowed = Rule::redirect(&named_host, true);
        // A source's own URL may be private, never link-local, metadata or unspecified.
        for to in ["127.0.0.1", "10.0.0.5", "100.64.0.1", "::1", "93.184.216.34"] {
            assert_eq!(check(to, own), Ok(()), "{to}");
        }
        for to in [
            "169.254.169.254",
            "fe80::1",
            "0.0.0.0",
            "::",
            "::ffff:169.254.169.254",
        ] {
            let refused = check(to, own).expect_err(to);
            assert!(refused.never, "{to}");
            assert!(
                check(to, allowed).expect_err(to).never,
                "allow_private does not help: {to}"
            );
        }
        // A redirect from anywhere must stay public unless allow_private.
        for to in [
            "127.0.0.1",
            "10.0.0.5",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "::1",
            "fd12::1",
        ] {
            let refused = check(to, redirect).expect_err(to);
            assert!(!refused.never, "{to}");
            assert_eq!(check(to, allowed), Ok(()), "{to}");
        }
        assert_eq!(check("93.184.216.34", redirect), Ok(()));
        assert_eq!(check("2606:4700::1111", redirect), Ok(()));
        // A source that names a never-fetched address itself may reach that address, and only
        // that one.
        let metadata = url("http://169.254.169.254/latest/feed");
        assert_eq!(
            policy.check("h", ip("169.254.169.254"), Rule::own(&metadata)),
            Ok(())
        );
        assert!(
            policy
                .check("h", ip("169.254.169.253"), Rule::own(&metadata))
                .is_err()
        );
        assert_eq!(
            policy.check("h", ip("169.254.169.254"), Rule::redirect(&metadata, true)),
            Ok(())
        );
        assert!(
            policy
                .check("h", ip("169.254.169.254"), Rule::redirect(&metadata, false))
                .is_err(),
            "a redirect to it is still a redirect to a non-public address"
        );
    }

    #[test]
    fn resolved_addresses_are_filtered_and_a_name_with_none_left_is_refused() {
        let policy = Policy::default();
        let sock = |s: &str| SocketAddr::new(ip(s), 0);
        let own = Rule {
            private: true,
            named: None,
        };
        let mixed = [sock("169.254.169.254"), sock("10.0.0.1"), sock("93.184.216.34")];
        assert_eq!(
            policy.filter("h", &mixed, own),
            Ok(vec![sock("10.0.0.1"), sock("93.184.216.34")])
        );
        let redirect = Rule {
            private: false,
            ..own
        };
        assert_eq!(
            policy.filter("h", &mixed, redirect),
            Ok(vec![sock("93.184.216.34")])
        );
        let refused = policy
            .filter("metadata.google.internal", &[sock("169.254.169.254")], own)
            .expect_err("only metadata");
        assert_eq!(
            refused.to_string(),
            "`metadata.google.internal` is 169.254.169.254, a cloud metadata address, which is \
             never fetched unless the source's URL names that exact address"
        );
    }

    #[test]
    fn stand_ins_count_as_public() {
        let policy = Policy::with_stand_ins(vec![ip("127.0.0.2")]);
        let redirect = Rule {
            private: false,
            named: None,
        };
        assert_eq!(policy.non_public(ip("127.0.0.2")), None);
        assert_eq!(policy.non_public(ip("127.0.0.1")), Some("loopback"));
        let refused = policy
            .check("127.0.0.1", ip("127.0.0.1"), redirect)
            .expect_err("loopback is refused");
        assert_eq!(
            refused.to_string(),
            "`127.0.0.1` is 127.0.0.1, a loopback address"
        );
        assert!(policy.check("127.0.0.2", ip("127.0.0.2"), redirect).is_ok());
    }

    #[tokio::test]
    async fn the_resolver_gives_no_private_address() {
        let resolver = Guarded {
            policy: Policy::default(),
            private: false,
        };
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
