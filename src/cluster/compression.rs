//! S2 compression of route and leaf connections as Go negotiates it (`server.go`
//! `validateAndNormalizeCompressionOption`, `selectCompressionMode`,
//! `selectS2AutoModeBasedOnRTT`): each side's INFO says its mode, and each side then
//! writes with the level it picked (levels may differ per direction).

use std::time::Duration;

use crate::transport::s2::Level;

/// `s2_auto`'s default RTT thresholds: up to 10 ms uncompressed, then fast, better, best
/// (`defaultCompressionS2AutoRTTThresholds`).
pub const DEFAULT_RTT_THRESHOLDS: [Duration; 3] = [
    Duration::from_millis(10),
    Duration::from_millis(50),
    Duration::from_millis(100),
];

/// A compression mode, as the `compression` setting and INFOs name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Behaves as a server from before compression (its INFO says nothing).
    NotSupported,
    Off,
    /// Compresses only when the other side asks.
    Accept,
    /// A level picked from the connection's RTT.
    Auto,
    Uncompressed,
    Fast,
    Better,
    Best,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::NotSupported => "not supported",
            Mode::Off => "off",
            Mode::Accept => "accept",
            Mode::Auto => "s2_auto",
            Mode::Uncompressed => "s2_uncompressed",
            Mode::Fast => "s2_fast",
            Mode::Better => "s2_better",
            Mode::Best => "s2_best",
        }
    }

    /// A mode as an INFO names it (exactly Go's constants).
    fn from_info(name: &str) -> Option<Mode> {
        [
            Mode::NotSupported,
            Mode::Off,
            Mode::Accept,
            Mode::Auto,
            Mode::Uncompressed,
            Mode::Fast,
            Mode::Better,
            Mode::Best,
        ]
        .into_iter()
        .find(|m| m.name() == name)
    }

    /// A mode as the configuration may spell it, `on` being `on` (any case).
    fn from_setting(text: &str, on: Mode) -> Option<Mode> {
        Some(match text.to_ascii_lowercase().as_str() {
            "on" | "enabled" | "true" => on,
            "not supported" | "not_supported" => Mode::NotSupported,
            "disabled" | "off" | "false" => Mode::Off,
            "accept" => Mode::Accept,
            "auto" | "s2_auto" => Mode::Auto,
            "fast" | "s2_fast" => Mode::Fast,
            "better" | "s2_better" => Mode::Better,
            "best" | "s2_best" => Mode::Best,
            // Go takes `s2_uncompressed` only from a peer, or from `auto`.
            _ => return None,
        })
    }

    /// This side takes part in a negotiation (`needsCompression`).
    pub fn negotiates(self) -> bool {
        !matches!(self, Mode::NotSupported | Mode::Off)
    }

    /// How output is written once this mode was picked; none for no compression.
    pub fn level(self) -> Option<Level> {
        match self {
            Mode::Uncompressed => Some(Level::Stored),
            Mode::Fast | Mode::Better | Mode::Best => Some(Level::Compressed),
            _ => None,
        }
    }
}

/// A `compression` setting as written: a mode (empty for the default) and `s2_auto`'s
/// thresholds. Go checks it when the server starts, not under `-t`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompressionConfig {
    pub mode: String,
    pub rtt_thresholds: Vec<Duration>,
}

/// A checked `compression` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compression {
    pub mode: Mode,
    /// `s2_auto`'s RTT thresholds, ascending; a 0 turns that level off.
    pub rtt_thresholds: Vec<Duration>,
}

impl CompressionConfig {
    /// The setting checked, with `default` for an unset mode and `on` for `on`/`true`
    /// (routes: `accept` and `s2_fast`; leaf nodes: `s2_auto` for both), and Go's errors.
    pub fn resolve(this: Option<&Self>, default: Mode, on: Mode) -> Result<Compression, String> {
        let Some(c) = this.filter(|c| !c.mode.is_empty()) else {
            return Ok(Compression::of(default));
        };
        let mode = Mode::from_setting(&c.mode, on)
            .ok_or_else(|| format!("unsupported compression mode {:?}", c.mode))?;
        if mode != Mode::Auto {
            return Ok(Compression::of(mode));
        }
        if c.rtt_thresholds.is_empty() {
            return Ok(Compression::of(Mode::Auto));
        }
        let listed = || {
            let each: Vec<String> = c
                .rtt_thresholds
                .iter()
                .map(|d| crate::timefmt::go_duration(*d))
                .collect();
            format!("[{}]", each.join(" "))
        };
        let mut rtts: Vec<Duration> = Vec::new();
        for &d in &c.rtt_thresholds {
            if !d.is_zero() && rtts.iter().any(|&v| d < v) {
                return Err(format!(
                    "RTT threshold values {} should be in ascending order",
                    listed()
                ));
            }
            rtts.push(d);
        }
        while rtts.last().is_some_and(Duration::is_zero) {
            rtts.pop();
        }
        if rtts.len() > 4 {
            return Err(format!(
                "compression mode {:?} should have no more than 4 RTT thresholds: {}",
                c.mode,
                listed()
            ));
        }
        if rtts.is_empty() {
            return Err(format!(
                "compression mode {:?} requires at least one RTT threshold",
                c.mode
            ));
        }
        Ok(Compression {
            mode: Mode::Auto,
            rtt_thresholds: rtts,
        })
    }
}

impl Compression {
    fn of(mode: Mode) -> Compression {
        Compression {
            mode,
            rtt_thresholds: if mode == Mode::Auto {
                DEFAULT_RTT_THRESHOLDS.to_vec()
            } else {
                Vec::new()
            },
        }
    }

    /// What this side's INFO says before negotiating: its mode; none for `not supported`.
    pub fn info_name(&self) -> &'static str {
        match self.mode {
            Mode::NotSupported => "",
            m => m.name(),
        }
    }

    /// What the INFO that answers the other side says: `s2_auto` when configured so,
    /// else the mode picked (`compressionModeForInfoProtocol`).
    pub fn answer_name(&self, picked: Mode) -> &'static str {
        match self.mode {
            Mode::Auto => Mode::Auto.name(),
            _ => picked.name(),
        }
    }

    /// The mode this side writes with, given the other side's INFO `theirs` and the
    /// connection's RTT so far (`selectCompressionMode`, then `s2_auto`'s pick). A side
    /// that does not negotiate is `not supported` when either side is, else `off`.
    pub fn pick(&self, theirs: &str, rtt: Duration) -> Result<Mode, String> {
        if !self.mode.negotiates() {
            return Ok(match self.mode {
                Mode::NotSupported => Mode::NotSupported,
                _ if theirs.is_empty() => Mode::NotSupported,
                _ => Mode::Off,
            });
        }
        let picked = match Mode::from_info(theirs) {
            None if theirs.is_empty() => Mode::NotSupported,
            Some(Mode::NotSupported) => Mode::NotSupported,
            Some(Mode::Off) => Mode::Off,
            Some(Mode::Accept) if self.mode == Mode::Accept => Mode::Off,
            Some(Mode::Accept) => self.mode,
            Some(Mode::Auto) if self.mode == Mode::Accept => Mode::Fast,
            Some(m) if self.mode == Mode::Accept => m,
            Some(_) => self.mode,
            None => return Err(format!("unsupported route compression mode {theirs:?}")),
        };
        Ok(match picked {
            Mode::Auto => self.auto_level(rtt),
            m => m,
        })
    }

    /// `s2_auto`'s level for `rtt`: the first threshold it is under names it; above them
    /// all, `best` when there are 3 or more, else the last one's
    /// (`selectS2AutoModeBasedOnRTT`).
    pub fn auto_level(&self, rtt: Duration) -> Mode {
        let t = &self.rtt_thresholds;
        let i = t.iter().position(|&d| rtt <= d).unwrap_or(if t.len() >= 3 {
            3
        } else {
            t.len().saturating_sub(1)
        });
        [Mode::Uncompressed, Mode::Fast, Mode::Better]
            .get(i)
            .copied()
            .unwrap_or(Mode::Best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn resolve(mode: &str, rtts: &[u64]) -> Result<Compression, String> {
        let c = CompressionConfig {
            mode: mode.into(),
            rtt_thresholds: rtts.iter().map(|&n| ms(n)).collect(),
        };
        CompressionConfig::resolve(Some(&c), Mode::Accept, Mode::Fast)
    }

    #[test]
    fn settings_as_go_normalizes_them() {
        assert_eq!(resolve("", &[10]).unwrap().mode, Mode::Accept);
        assert_eq!(resolve("TRUE", &[]).unwrap().mode, Mode::Fast);
        assert_eq!(resolve("S2_Best", &[]).unwrap().mode, Mode::Best);
        assert_eq!(
            resolve("not_supported", &[]).unwrap().mode,
            Mode::NotSupported
        );
        assert_eq!(
            resolve("auto", &[]).unwrap().rtt_thresholds,
            DEFAULT_RTT_THRESHOLDS
        );
        assert_eq!(
            resolve("auto", &[0, 20, 0]).unwrap().rtt_thresholds,
            [ms(0), ms(20)]
        );
        assert_eq!(
            resolve("bogus", &[]),
            Err("unsupported compression mode \"bogus\"".into())
        );
        assert_eq!(
            resolve("s2_auto", &[50, 10]),
            Err("RTT threshold values [50ms 10ms] should be in ascending order".into())
        );
        assert_eq!(
            resolve("auto", &[1, 2, 3, 4, 5]),
            Err("compression mode \"auto\" should have no more than 4 RTT thresholds: [1ms 2ms 3ms 4ms 5ms]".into())
        );
        assert_eq!(
            resolve("auto", &[0]),
            Err("compression mode \"auto\" requires at least one RTT threshold".into())
        );
    }

    /// The modes each side ends with, as Go's `selectCompressionMode` table and the
    /// `/routez` and `/leafz` of two Go servers show them.
    #[test]
    fn picks_as_go_does() {
        let c = |m| Compression::of(m);
        let loopback = ms(1);
        let pick = |ours: Mode, theirs: &str| c(ours).pick(theirs, loopback).unwrap();
        assert_eq!(pick(Mode::Accept, "accept"), Mode::Off);
        assert_eq!(pick(Mode::Accept, "s2_fast"), Mode::Fast);
        assert_eq!(pick(Mode::Accept, "s2_auto"), Mode::Fast);
        assert_eq!(pick(Mode::Accept, "s2_best"), Mode::Best);
        assert_eq!(pick(Mode::Auto, "s2_fast"), Mode::Uncompressed);
        assert_eq!(pick(Mode::Fast, "s2_auto"), Mode::Fast);
        assert_eq!(pick(Mode::Fast, "off"), Mode::Off);
        assert_eq!(pick(Mode::Fast, ""), Mode::NotSupported);
        assert_eq!(pick(Mode::Fast, "not supported"), Mode::NotSupported);
        assert_eq!(pick(Mode::Off, "s2_fast"), Mode::Off);
        assert_eq!(pick(Mode::Off, ""), Mode::NotSupported);
        assert_eq!(pick(Mode::NotSupported, "s2_fast"), Mode::NotSupported);
        assert_eq!(
            c(Mode::Fast).pick("zip", loopback),
            Err("unsupported route compression mode \"zip\"".into())
        );
        let auto = c(Mode::Auto);
        assert_eq!(auto.auto_level(ms(10)), Mode::Uncompressed);
        assert_eq!(auto.auto_level(ms(11)), Mode::Fast);
        assert_eq!(auto.auto_level(ms(100)), Mode::Better);
        assert_eq!(auto.auto_level(ms(101)), Mode::Best);
        let two = resolve("auto", &[0, 20]).unwrap();
        assert_eq!(two.auto_level(ms(0)), Mode::Uncompressed);
        assert_eq!(two.auto_level(ms(5)), Mode::Fast);
        assert_eq!(two.auto_level(ms(500)), Mode::Fast);
        assert_eq!(auto.answer_name(Mode::Uncompressed), "s2_auto");
        assert_eq!(c(Mode::Accept).answer_name(Mode::Fast), "s2_fast");
    }
}
