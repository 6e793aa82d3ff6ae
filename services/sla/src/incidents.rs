//! Incidents: the opening and the resolution of one incident, matched by id whatever order they
//! arrive in.
//!
//! Both halves are kept until matched (and after: the table shows every incident). Repeated or
//! conflicting halves combine order-independently: the earliest opening, the latest resolution
//! and the most severe severity seen win.

use gigstream_core::event::Severity;
use gigstream_core::time::MINUTE_MS;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What is known about one incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// Most severe severity seen on either half (`sev1` is the most severe).
    pub severity: Severity,
    /// Event time of the opening, ms; `None` while only the resolution has arrived.
    pub opened_at: Option<i64>,
    /// Event time of the resolution, ms; `None` while open.
    pub resolved_at: Option<i64>,
}

impl Incident {
    /// Minutes from opening to resolution; `None` until both are known. A resolution stamped
    /// before its opening (clock skew between reporters) counts as zero minutes, not negative.
    pub fn duration_minutes(&self) -> Option<f64> {
        match (self.opened_at, self.resolved_at) {
            (Some(o), Some(r)) => Some((r - o).max(0) as f64 / MINUTE_MS as f64),
            _ => None,
        }
    }
}

/// Incidents by `(service_id, incident_id)`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Incidents {
    by_id: BTreeMap<(String, String), Incident>,
}

impl Incidents {
    pub fn opened(&mut self, service_id: &str, incident_id: &str, severity: Severity, at: i64) {
        let i = self.entry(service_id, incident_id, severity);
        i.opened_at = Some(i.opened_at.map_or(at, |o| o.min(at)));
    }

    pub fn resolved(&mut self, service_id: &str, incident_id: &str, severity: Severity, at: i64) {
        let i = self.entry(service_id, incident_id, severity);
        i.resolved_at = Some(i.resolved_at.map_or(at, |r| r.max(at)));
    }

    fn entry(&mut self, service_id: &str, incident_id: &str, severity: Severity) -> &mut Incident {
        let i = self
            .by_id
            .entry((service_id.to_string(), incident_id.to_string()))
            .or_insert(Incident {
                severity,
                opened_at: None,
                resolved_at: None,
            });
        i.severity = i.severity.min(severity);
        i
    }

    /// Adds `other`'s incidents with the same rules as applying their halves: earliest opening,
    /// latest resolution, most severe severity.
    pub fn merge(&mut self, other: &Incidents) {
        for (key, theirs) in &other.by_id {
            match self.by_id.get_mut(key) {
                Some(mine) => {
                    mine.severity = mine.severity.min(theirs.severity);
                    mine.opened_at = min_some(mine.opened_at, theirs.opened_at);
                    mine.resolved_at = mine.resolved_at.max(theirs.resolved_at);
                }
                None => {
                    self.by_id.insert(key.clone(), theirs.clone());
                }
            }
        }
    }

    /// One incident, if seen.
    pub fn get(&self, service_id: &str, incident_id: &str) -> Option<&Incident> {
        self.by_id
            .get(&(service_id.to_string(), incident_id.to_string()))
    }

    /// `((service_id, incident_id), incident)` sorted by service then incident id.
    pub fn iter(&self) -> impl Iterator<Item = (&(String, String), &Incident)> + '_ {
        self.by_id.iter()
    }

    /// Incidents of one service.
    pub fn of_service<'a>(
        &'a self,
        service_id: &'a str,
    ) -> impl Iterator<Item = &'a Incident> + 'a {
        self.by_id
            .iter()
            .filter(move |((s, _), _)| s == service_id)
            .map(|(_, i)| i)
    }
}

/// The smaller of two optional times, `None` only when both are.
fn min_some(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Mean time to resolve, minutes, over the resolved incidents among `incidents`; `None` when
/// none is resolved.
pub fn mttr_minutes<'a>(incidents: impl IntoIterator<Item = &'a Incident>) -> Option<f64> {
    let durations: Vec<f64> = incidents
        .into_iter()
        .filter_map(Incident::duration_minutes)
        .collect();
    if durations.is_empty() {
        return None;
    }
    Some(durations.iter().sum::<f64>() / durations.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gigstream_core::time::parse_ts;

    #[test]
    fn resolution_before_opening_is_matched_and_mttr_is_the_mean() {
        let t = parse_ts("2026-03-01T10:00:00Z").unwrap();
        let mut a = Incidents::default();
        // inc-1: resolved arrives first, 40 min; inc-2: 6 min; inc-3 still open.
        a.resolved("svc", "inc-1", Severity::Sev2, t + 40 * MINUTE_MS);
        assert_eq!(a.iter().next().unwrap().1.duration_minutes(), None);
        a.opened("svc", "inc-1", Severity::Sev2, t);
        a.opened("svc", "inc-2", Severity::Sev3, t);
        a.resolved("svc", "inc-2", Severity::Sev1, t + 6 * MINUTE_MS);
        a.opened("svc", "inc-3", Severity::Sev4, t);
        a.opened("other", "inc-1", Severity::Sev4, t);
        let svc: Vec<&Incident> = a.of_service("svc").collect();
        assert_eq!(svc.len(), 3);
        assert_eq!(svc[0].duration_minutes(), Some(40.0));
        assert_eq!(svc[1].severity, Severity::Sev1);
        assert_eq!(mttr_minutes(svc.iter().copied()), Some(23.0));
        assert_eq!(mttr_minutes(a.of_service("other")), None);
    }

    #[test]
    fn halves_combine_in_any_order() {
        let t = parse_ts("2026-03-01T10:00:00Z").unwrap();
        let ops: [(bool, Severity, i64); 4] = [
            (true, Severity::Sev3, t + 5),
            (false, Severity::Sev2, t + 100),
            (true, Severity::Sev3, t),
            (false, Severity::Sev3, t + 90),
        ];
        let mut reference: Option<Incidents> = None;
        for rot in 0..ops.len() {
            let mut a = Incidents::default();
            for k in 0..ops.len() {
                let (open, sev, at) = ops[(k + rot) % ops.len()];
                if open {
                    a.opened("s", "i", sev, at);
                } else {
                    a.resolved("s", "i", sev, at);
                }
            }
            let i = a.iter().next().unwrap().1;
            assert_eq!(
                (i.opened_at, i.resolved_at, i.severity),
                (Some(t), Some(t + 100), Severity::Sev2)
            );
            if let Some(r) = &reference {
                assert_eq!(r, &a);
            }
            reference = Some(a);
        }
    }

    #[test]
    fn merged_halves_equal_one_fold() {
        let t = parse_ts("2026-03-01T10:00:00Z").unwrap();
        // (open?, severity, at, part)
        let ops: [(bool, Severity, i64, usize); 5] = [
            (true, Severity::Sev3, t + 5, 0),
            (false, Severity::Sev2, t + 100, 1),
            (true, Severity::Sev3, t, 1),
            (false, Severity::Sev3, t + 90, 0),
            (true, Severity::Sev4, t, 2),
        ];
        let mut whole = Incidents::default();
        let mut parts = [
            Incidents::default(),
            Incidents::default(),
            Incidents::default(),
        ];
        for (open, sev, at, part) in ops {
            let id = if part == 2 { "j" } else { "i" };
            for s in [&mut whole, &mut parts[part]] {
                if open {
                    s.opened("s", id, sev, at);
                } else {
                    s.resolved("s", id, sev, at);
                }
            }
        }
        for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2]] {
            let mut m = Incidents::default();
            for k in order {
                m.merge(&parts[k]);
            }
            assert_eq!(m, whole, "order {order:?}");
        }
    }
}
