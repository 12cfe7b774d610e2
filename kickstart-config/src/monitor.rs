//! The resource monitor's own command line (spec §2.5): `trace` and the DHCP
//! values used for the `ip=grubdhcp` substitution (spec §2.3, vm.cc
//! `install_ipcmdline`).

use core::fmt::{self, Write as _};

use crate::line::{find, is_blank, word_at, Line};
use crate::options::{OptionError, OptionErrorKind, Reading};

/// Longest dotted quad the original's buffers hold ("255.255.255.255").
pub const QUAD_MAX: usize = 15;
/// Longest command line the original copies for a guest (511 bytes + NUL).
pub const CMDLINE_MAX: usize = 511;

/// One dotted-quad text, as the original keeps it (a 15-byte buffer).
pub type Quad = heapless::String<QUAD_MAX>;

/// The four DHCP values handed over by a DHCP-injecting GRUB (spec §2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dhcp {
    /// `ip=` value (after any `dhcpovr=` overlay).
    pub ip: Quad,
    /// `mask=` value.
    pub mask: Quad,
    /// `server=` value (after any `dhcpovr=` overlay).
    pub server: Quad,
    /// `gateway=` value (after any `dhcpovr=` overlay).
    pub gateway: Quad,
}

impl Dhcp {
    /// The text that replaces `grubdhcp`: `<ip>:<server>:<gateway>:<mask>`.
    pub fn replacement(&self) -> heapless::String<{ 4 * QUAD_MAX + 3 }> {
        let mut s = heapless::String::new();
        // Cannot fail: four quads of at most 15 bytes plus three colons.
        let _ = write!(
            s,
            "{}:{}:{}:{}",
            self.ip, self.server, self.gateway, self.mask
        );
        s
    }
}

/// The command line with `grubdhcp` replaced, bounded like the original's buffer.
pub type GuestCmdline = heapless::String<CMDLINE_MAX>;

/// Error of [`substitute_grubdhcp`]: the result would be 512 bytes or longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong {
    /// Length the line would have had.
    pub len: usize,
}

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "command line would be {} bytes after the ip=grubdhcp substitution; at most {CMDLINE_MAX} fit", self.len)
    }
}

/// Replaces the first `grubdhcp` of an `ip=grubdhcp` in `line` by the DHCP
/// values, keeping `ip=` and everything after `grubdhcp` (spec §2.3).
/// Lines without it are copied unchanged. Fails like the original when the
/// result does not fit in 511 bytes.
pub fn substitute_grubdhcp(line: &str, dhcp: &Dhcp) -> Result<GuestCmdline, TooLong> {
    let mut out = GuestCmdline::new();
    let (head, tail) = match find(line, "ip=grubdhcp") {
        Some(i) => (&line[..i + 3], Some(&line[i + 11..])),
        None => (line, None),
    };
    let rep = dhcp.replacement();
    let len = head.len() + tail.map_or(0, |t| t.len() + rep.len());
    let push = |out: &mut GuestCmdline, s: &str| out.push_str(s).map_err(|_| TooLong { len });
    push(&mut out, head)?;
    if let Some(t) = tail {
        push(&mut out, &rep)?;
        push(&mut out, t)?;
    }
    Ok(out)
}

/// The parsed own command line of the resource monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorOptions {
    /// `trace`: set the kernel tracebuffer mask.
    pub trace: bool,
    /// All four DHCP keys, if present.
    pub dhcp: Option<Dhcp>,
    /// Label guest output with its VM (`console=labels`, the default);
    /// `console=raw` prints the guests' bytes exactly as the original does.
    pub console_labels: bool,
    /// Zero a VM's whole block when it is created (`zero=eager`, the
    /// original's way) instead of each frame when it is first exposed
    /// (`zero=lazy`, the default).
    pub zero_eager: bool,
}

const DHCP_KEYS: [&str; 4] = ["ip=", "mask=", "server=", "gateway="];

/// Parses the resource monitor's own command line (path included).
///
/// Strict where the original searched substrings: `trace` must be a word,
/// each key must start at the line start, a blank or a `,`, values are dotted
/// quads ending at `,`, a blank or the end, and either all four keys or none
/// are given. `dhcpovr=<prefix>` overlays the first characters of ip, server
/// and gateway exactly like the original; the result must still be a dotted quad.
pub fn parse_monitor(full: &str) -> Result<MonitorOptions, OptionError<'_>> {
    let line = Line::split(full);
    let opts = line.options;
    let base = line.options_at;
    let err = |option: &'static str, rel: usize, kind| {
        let (ws, word) = word_at(full, base + rel);
        OptionError {
            option,
            at: base + rel,
            word,
            word_at: ws,
            kind,
        }
    };
    let trace = line.words().any(|(_, w)| w == "trace");
    if !trace {
        if let Some(i) = find(opts, "trace") {
            return Err(err(
                "trace",
                i,
                OptionErrorKind::Substring {
                    original: Reading::Flag,
                },
            ));
        }
    }
    let console_labels = match find_key(opts, "console=") {
        None => true,
        Some(i) => match value_text(&opts[i + 8..]) {
            "labels" => true,
            "raw" => false,
            _ => {
                return Err(err(
                    "console=",
                    i,
                    OptionErrorKind::Value {
                        expected: "`console=labels` (the default: each guest line starts with `vmN: `) or `console=raw` (the guests' bytes as they came, as the original prints them)",
                    },
                ))
            }
        },
    };
    let zero_eager = match find_key(opts, "zero=") {
        None => false,
        Some(i) => match value_text(&opts[i + 5..]) {
            "lazy" => false,
            "eager" => true,
            _ => {
                return Err(err(
                    "zero=",
                    i,
                    OptionErrorKind::Value {
                        expected: "`zero=lazy` (the default: each frame of VM memory is zeroed when first exposed) or `zero=eager` (each VM block zeroed whole at creation, as the original)",
                    },
                ))
            }
        },
    };
    let mut found: [Option<(usize, &str)>; 4] = [None; 4];
    for (k, key) in DHCP_KEYS.iter().enumerate() {
        let first = find(opts, key);
        let strict = find_key(opts, key);
        if first != strict {
            return Err(err(
                key,
                first.unwrap_or(0),
                OptionErrorKind::Substring {
                    original: Reading::Flag,
                },
            ));
        }
        if let Some(i) = strict {
            found[k] = Some((i, value_text(&opts[i + key.len()..])));
        }
    }
    let count = found.iter().filter(|f| f.is_some()).count();
    if count == 0 {
        return Ok(MonitorOptions {
            trace,
            dhcp: None,
            console_labels,
            zero_eager,
        });
    }
    if count < 4 {
        // Name the first missing key at the first present one.
        let k = found.iter().position(Option::is_none).unwrap_or(0);
        let at = found.iter().flatten().next().map_or(0, |f| f.0);
        return Err(err(
            DHCP_KEYS[k],
            at,
            OptionErrorKind::Number(crate::num::NumberErrorKind::Empty),
        ));
    }
    let ovr = find_key(opts, "dhcpovr=").map(|i| value_text(&opts[i + 8..]));
    let mut quads: [Quad; 4] = Default::default();
    for (k, slot) in found.iter().enumerate() {
        let (i, text) = slot.unwrap_or((0, ""));
        let mut q = Quad::new();
        let bad = || {
            err(
                DHCP_KEYS[k],
                i,
                OptionErrorKind::Number(crate::num::NumberErrorKind::BadDigit { base: 10 }),
            )
        };
        q.push_str(text).map_err(|_| bad())?;
        if k != 1 {
            if let Some(o) = ovr {
                // Character overlay: the override replaces as many leading bytes.
                let mut b: heapless::Vec<u8, QUAD_MAX> = heapless::Vec::new();
                let src = q.as_bytes();
                for j in 0..src.len().max(o.len()).min(QUAD_MAX) {
                    let c = o.as_bytes().get(j).or(src.get(j)).copied().unwrap_or(b'0');
                    let _ = b.push(c);
                }
                q.clear();
                let _ = q.push_str(core::str::from_utf8(&b).map_err(|_| bad())?);
            }
        }
        if !is_dotted_quad(&q) {
            return Err(bad());
        }
        quads[k] = q;
    }
    let [ip, mask, server, gateway] = quads;
    Ok(MonitorOptions {
        trace,
        dhcp: Some(Dhcp {
            ip,
            mask,
            server,
            gateway,
        }),
        console_labels,
        zero_eager,
    })
}

/// First occurrence of `key` that starts at the start, after a blank or after a `,`.
fn find_key(opts: &str, key: &str) -> Option<usize> {
    crate::line::find_all(opts, key)
        .find(|&i| i == 0 || is_blank(opts.as_bytes()[i - 1]) || opts.as_bytes()[i - 1] == b',')
}

/// Value text: up to the next `,`, blank or the end.
fn value_text(rest: &str) -> &str {
    let end = rest
        .bytes()
        .position(|c| c == b',' || is_blank(c))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// Four decimal octets 0..=255 separated by dots.
pub fn is_dotted_quad(s: &str) -> bool {
    let mut n = 0;
    for part in s.split('.') {
        n += 1;
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|c| c.is_ascii_digit()) {
            return false;
        }
        if part.parse::<u16>().map_or(true, |v| v > 255) {
            return false;
        }
    }
    n == 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_and_nothing_else() {
        assert!(parse_monitor("/r").unwrap().console_labels);
        assert!(parse_monitor("/r console=labels").unwrap().console_labels);
        assert!(
            !parse_monitor("/r trace console=raw")
                .unwrap()
                .console_labels
        );
        assert!(!parse_monitor("/r").unwrap().zero_eager);
        assert!(!parse_monitor("/r zero=lazy").unwrap().zero_eager);
        assert!(
            parse_monitor("/r console=raw zero=eager")
                .unwrap()
                .zero_eager
        );
        let z = parse_monitor("/r zero=never").unwrap_err();
        assert_eq!((z.option, z.at, z.word), ("zero=", 3, "zero=never"));
        assert!(std::format!("{z}").contains("zero=eager"), "{z}");
        let e = parse_monitor("/r console=plain").unwrap_err();
        assert_eq!((e.option, e.at, e.word), ("console=", 3, "console=plain"));
        assert!(std::format!("{e}").contains("console=raw"), "{e}");
        let m = parse_monitor("/l4ka-resourcemon trace").unwrap();
        assert!(m.trace && m.dhcp.is_none());
        assert!(!parse_monitor("/l4ka-resourcemon").unwrap().trace);
        assert_eq!(parse_monitor("/r notrace").unwrap_err().option, "trace");
    }

    #[test]
    fn dhcp_values() {
        let m =
            parse_monitor("/r ip=10.0.0.5,mask=255.255.255.0,server=10.0.0.1,gateway=10.0.0.254,")
                .unwrap();
        let d = m.dhcp.unwrap();
        assert_eq!(d.ip.as_str(), "10.0.0.5");
        assert_eq!(
            d.replacement().as_str(),
            "10.0.0.5:10.0.0.1:10.0.0.254:255.255.255.0"
        );
        assert_eq!(
            substitute_grubdhcp("/vmlinuz ip=grubdhcp:eth0 x", &d)
                .unwrap()
                .as_str(),
            "/vmlinuz ip=10.0.0.5:10.0.0.1:10.0.0.254:255.255.255.0:eth0 x"
        );
        assert_eq!(
            substitute_grubdhcp("/vmlinuz x", &d).unwrap().as_str(),
            "/vmlinuz x"
        );
    }

    #[test]
    fn dhcp_override_is_a_character_overlay() {
        let m = parse_monitor(
            "/r ip=10.0.0.5,mask=255.0.0.0,server=10.0.0.1,gateway=10.0.0.9, dhcpovr=12",
        )
        .unwrap();
        let d = m.dhcp.unwrap();
        assert_eq!(
            (d.ip.as_str(), d.server.as_str(), d.mask.as_str()),
            ("12.0.0.5", "12.0.0.1", "255.0.0.0")
        );
        // An overlay that breaks the quad is refused.
        assert!(parse_monitor(
            "/r ip=10.0.0.5,mask=255.0.0.0,server=10.0.0.1,gateway=10.0.0.9, dhcpovr=192.168"
        )
        .is_err());
    }

    #[test]
    fn dhcp_errors() {
        assert_eq!(
            parse_monitor("/r ip=10.0.0.5,").unwrap_err().option,
            "mask="
        );
        assert_eq!(
            parse_monitor("/r netmask=1.2.3.4").unwrap_err().option,
            "mask="
        );
        assert!(
            parse_monitor("/r ip=10.0.0.500,mask=255.0.0.0,server=10.0.0.1,gateway=10.0.0.9")
                .is_err()
        );
    }

    #[test]
    fn substitution_length_limit() {
        let d = parse_monitor("/r ip=10.0.0.5,mask=255.0.0.0,server=10.0.0.1,gateway=10.0.0.9")
            .unwrap()
            .dhcp
            .unwrap();
        let mut long = std::string::String::from("/k ip=grubdhcp ");
        long.push_str(&"x".repeat(480));
        assert!(substitute_grubdhcp(&long, &d).is_err());
    }
}
