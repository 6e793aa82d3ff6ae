//! One deal from lead to end: draws the funnel (lead, proposal, answer, contract) and, for signed
//! deals, the contract's execution (work logs, milestones, invoices, payments, end).

use super::catalog::{self, Kind, CATEGORIES};
use crate::dist::{self, Rng8};
use crate::scenario::Scenario;
use chrono::{Datelike, Duration, Months, NaiveDate, Weekday};
use gigstream_core::event::*;
use gigstream_core::money::round_cents;
use gigstream_core::time::{date_of, date_start_ms, DAY_MS, HOUR_MS, MINUTE_MS};
use gigstream_core::Decimal;

/// How a freelancer is occupied by a contract (for assigning freelancer ids afterwards).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Full-time on the contract: one at a time.
    Dev,
    /// Part-time (8-12 h a week): two at a time.
    Consultant,
    /// Sponsorship: the maintainer, no logged work.
    Maintainer,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Work {
    pub start: i64,
    pub end: i64,
    pub role: Role,
}

#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub id: String,
    pub segment: ClientSegment,
    pub country: &'static str,
}

/// A retained single-delivery client comes back with a new lead at `at`.
#[derive(Debug, Clone)]
pub(crate) struct FollowUp {
    pub at: i64,
    pub client: Client,
}

/// One deal's events (time, payload, may arrive late), freelancer ids still empty.
pub(crate) struct DealPlan {
    pub deal_no: u64,
    pub events: Vec<(i64, OrderEvent, bool)>,
    pub work: Option<Work>,
    pub follow_up: Option<FollowUp>,
}

enum Terms {
    Fixed {
        total: Decimal,
        milestones: u32,
        weeks: f64,
        single: bool,
        days_share: f64,
    },
    Hourly {
        rate: Decimal,
        weeks: f64,
        full_time: bool,
    },
    Retainer {
        monthly: Decimal,
    },
    Subscription {
        monthly: Decimal,
    },
}

struct Builder<'a> {
    r: &'a mut Rng8,
    sc: &'a Scenario,
    deal_no: u64,
    currency: &'static str,
    due_days: i64,
    invoices: u32,
    ev: Vec<(i64, OrderEvent, bool)>,
}

/// Plans deal `deal_no` whose lead is posted at `lead_at`. `client` is set for a returning client.
pub(crate) fn plan_deal(
    r: &mut Rng8,
    sc: &Scenario,
    deal_no: u64,
    lead_at: i64,
    client: Option<Client>,
    weights: &[(usize, f64)],
) -> DealPlan {
    let returning = client.is_some();
    let cat = if returning {
        let small: Vec<(usize, f64)> = (0..CATEGORIES.len())
            .filter(|&i| matches!(CATEGORIES[i].kind, Kind::SmallFixed { .. }))
            .map(|i| (i, CATEGORIES[i].weight))
            .collect();
        &CATEGORIES[dist::weighted(r, &small)]
    } else {
        &CATEGORIES[dist::weighted(r, weights)]
    };
    let platform: &'static str = if returning && dist::chance(r, 0.5) {
        "direct"
    } else {
        dist::weighted(r, cat.platforms)
    };
    let cn = catalog::is_cn(platform);
    let currency = if cn { "CNY" } else { "USD" };
    let client = client.unwrap_or_else(|| {
        let segment = dist::weighted(r, &catalog::SEGMENTS);
        Client {
            id: format!("c-{deal_no:06}"),
            segment,
            country: catalog::country(r, segment, cn),
        }
    });
    let mut tags: Vec<&str> = cat.tags.to_vec();
    dist::shuffle(r, &mut tags);
    tags.truncate(dist::int(r, 1, 4.min(tags.len() as i64)) as usize);
    if client.segment == ClientSegment::BlockchainInfra
        && !tags.contains(&"cosmos-sdk")
        && tags.len() < 4
        && dist::chance(r, 0.4)
    {
        tags.push("cosmos-sdk");
    }
    let step = if cn { 100.0 } else { 10.0 };

    // Budget, quote and terms by category.
    let (bmin, bmax, quote, model, est_hours, terms) = match cat.kind {
        Kind::SmallFixed { lo, hi, cny } => {
            let fx = if cny && !cn { 7.1 } else { 1.0 };
            let c = dist::uniform(r, lo, hi);
            let (bmin, bmax) = ((c * 0.85).max(lo) / fx, (c * 1.15).min(hi) / fx);
            let quote = dist::uniform(r, bmin * 0.92, bmax * 1.05);
            let single = returning || dist::chance(r, 0.6);
            let weeks = if single {
                dist::uniform(r, 2.4, 6.0)
            } else {
                dist::uniform(r, 4.0, 9.0)
            };
            let days_share = dist::uniform(r, 0.4, 0.8);
            let milestones = if single { 1 } else { dist::int(r, 2, 3) as u32 };
            let total = dist::round_step(quote, step);
            let est = (weeks * 5.0 * days_share * 8.0).round();
            (
                bmin,
                bmax,
                quote,
                PricingModel::Fixed,
                est,
                Terms::Fixed {
                    total,
                    milestones,
                    weeks,
                    single,
                    days_share,
                },
            )
        }
        Kind::Migration => {
            let months = dist::int(r, 3, 6) as u32;
            let monthly = 8_500.0 * dist::uniform(r, 0.85, 1.15);
            let weeks = months as f64 * 4.345;
            if dist::chance(r, 0.6) {
                let total = monthly * months as f64;
                let terms = Terms::Fixed {
                    total: dist::round_step(total, 100.0),
                    milestones: months,
                    weeks,
                    single: false,
                    days_share: 0.95,
                };
                (
                    total * 0.9,
                    total * 1.1,
                    total,
                    PricingModel::Fixed,
                    months as f64 * 150.0,
                    terms,
                )
            } else {
                let rate = dist::uniform(r, 50.0, 75.0).round();
                let terms = Terms::Hourly {
                    rate: dist::cents(rate),
                    weeks,
                    full_time: true,
                };
                (
                    rate - 8.0,
                    rate + 12.0,
                    rate,
                    PricingModel::Hourly,
                    months as f64 * 150.0,
                    terms,
                )
            }
        }
        Kind::Advisory => {
            let annual = (dist::uniform(r, 85_000.0, 130_000.0) / 1000.0).round() * 1000.0;
            let monthly = round_cents(Decimal::from(annual as i64) / Decimal::from(12));
            let m = annual / 12.0;
            (
                m * 0.9,
                m * 1.1,
                m,
                PricingModel::Retainer,
                520.0,
                Terms::Retainer { monthly },
            )
        }
        Kind::Consulting => {
            let rate = if cn {
                (dist::uniform(r, 300.0, 800.0) / 10.0).round() * 10.0
            } else {
                (dist::uniform(r, 70.0, 150.0) / 5.0).round() * 5.0
            };
            let weeks = dist::int(r, 8, 40) as f64;
            let terms = Terms::Hourly {
                rate: dist::cents(rate),
                weeks,
                full_time: false,
            };
            (
                rate * 0.85,
                rate * 1.15,
                rate,
                PricingModel::Hourly,
                weeks * 10.0,
                terms,
            )
        }
        Kind::Sponsorship => {
            let monthly = (dist::uniform(r, 900.0, 1500.0) / 50.0).round() * 50.0;
            (
                monthly * 0.8,
                monthly * 1.2,
                monthly,
                PricingModel::Subscription,
                20.0,
                Terms::Subscription {
                    monthly: dist::cents(monthly),
                },
            )
        }
    };
    let bmin_d = dist::round_step(bmin, step);
    let bmax_d = dist::round_step(bmax, step).max(bmin_d);
    let quote_d = match &terms {
        Terms::Fixed { total, .. } => *total,
        Terms::Hourly { rate, .. } => *rate,
        Terms::Retainer { monthly } | Terms::Subscription { monthly } => *monthly,
    };
    let _ = quote;

    let due_days = match platform {
        "direct" | "toptal" | "clouddevs" => 30,
        _ => 14,
    };
    let mut b = Builder {
        r,
        sc,
        deal_no,
        currency,
        due_days,
        invoices: 0,
        ev: Vec::new(),
    };
    b.push(
        lead_at,
        OrderEvent::LeadPosted(LeadPosted {
            platform: platform.to_string(),
            client_id: client.id.clone(),
            client_segment: client.segment,
            client_country: client.country.to_string(),
            category: cat.id.to_string(),
            skill_tags: tags.iter().map(|t| t.to_string()).collect(),
            budget_min: bmin_d,
            budget_max: bmax_d,
            currency: currency.to_string(),
        }),
    );
    let mut plan = DealPlan {
        deal_no,
        events: Vec::new(),
        work: None,
        follow_up: None,
    };
    if !dist::chance(b.r, catalog::proposal_rate(cat.income)) {
        plan.events = b.finish();
        return plan;
    }
    let t_prop =
        lead_at + (dist::lognormal_mean(b.r, 10.0, 1.0).clamp(0.33, 72.0) * HOUR_MS as f64) as i64;
    b.push(
        t_prop,
        OrderEvent::ProposalSubmitted(ProposalSubmitted {
            freelancer_id: String::new(),
            quote: quote_d,
            currency: currency.to_string(),
            pricing_model: model,
            estimated_hours: dist::cents(est_hours),
        }),
    );
    let respond = |b: &mut Builder, t: i64, response: Response| {
        b.push(
            t,
            OrderEvent::ClientResponded(ClientResponded {
                freelancer_id: String::new(),
                response,
            }),
        )
    };
    if !dist::chance(b.r, catalog::response_rate(platform)) {
        respond(&mut b, t_prop + 7 * DAY_MS, Response::NoResponse);
        plan.events = b.finish();
        return plan;
    }
    let t_resp = t_prop + catalog::first_response_ms(b.r, platform);
    let (p_interview, p_sign) = catalog::interview_and_sign(cat.income);
    if !dist::chance(b.r, p_interview) {
        respond(&mut b, t_resp, Response::Declined);
        plan.events = b.finish();
        return plan;
    }
    respond(&mut b, t_resp, Response::Interview);
    if !dist::chance(b.r, p_sign) {
        plan.events = b.finish();
        return plan;
    }
    let t_sign = t_resp
        + if cat.income == IncomeType::Sponsorship {
            (dist::uniform(b.r, 1.0, 48.0) * HOUR_MS as f64) as i64
        } else {
            (dist::uniform(b.r, 1.0, 8.0) * DAY_MS as f64) as i64
        };
    let tax_regime = match (cn, cat.income) {
        (true, IncomeType::Consulting) if dist::chance(b.r, 0.5) => TaxRegime::CnBusinessIncome,
        (true, _) => TaxRegime::CnLaborRemuneration,
        (false, _) => TaxRegime::None,
    };
    let settlement_cycle = dist::chance(b.r, 0.06)
        .then(|| dist::pick(b.r, &["T+7", "T+14", "weekly", "monthly"]).to_string());
    let (amount, hourly_rate) = match &terms {
        Terms::Hourly { rate, .. } => (None, Some(*rate)),
        _ => (Some(quote_d), None),
    };
    b.push(
        t_sign,
        OrderEvent::ContractSigned(ContractSigned {
            contract_id: format!("ct-{deal_no:06}"),
            freelancer_id: String::new(),
            client_id: client.id.clone(),
            platform: platform.to_string(),
            pricing_model: model,
            amount,
            hourly_rate,
            currency: currency.to_string(),
            settlement_cycle,
            tax_regime,
            income_type: cat.income,
        }),
    );
    let start_day = date_of(t_sign) + Duration::days(dist::int(b.r, 1, 5));
    let (work_end, role, follow) = match terms {
        Terms::Fixed {
            total,
            milestones,
            weeks,
            single,
            days_share,
        } => {
            let (end, follow) = b.fixed(start_day, total, milestones, weeks, single, days_share);
            (
                end,
                Role::Dev,
                follow.map(|at| FollowUp {
                    at,
                    client: client.clone(),
                }),
            )
        }
        Terms::Hourly {
            rate,
            weeks,
            full_time,
        } => {
            let end = b.hourly(start_day, rate, weeks, full_time, platform == "upwork");
            (
                end,
                if full_time {
                    Role::Dev
                } else {
                    Role::Consultant
                },
                None,
            )
        }
        Terms::Retainer { monthly } => (
            b.monthly(start_day, monthly, 12, true),
            Role::Consultant,
            None,
        ),
        Terms::Subscription { monthly } => (
            b.monthly(start_day, monthly, 36, false),
            Role::Maintainer,
            None,
        ),
    };
    plan.work = Some(Work {
        start: date_start_ms(start_day),
        end: work_end,
        role,
    });
    plan.follow_up = follow.filter(|f| f.at < b.sc.end_ms);
    plan.events = b.finish();
    plan
}

fn is_workday(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

impl Builder<'_> {
    fn push(&mut self, t: i64, e: OrderEvent) {
        self.ev.push((t, e, false));
    }

    fn push_late_ok(&mut self, t: i64, e: OrderEvent) {
        self.ev.push((t, e, true));
    }

    /// Time order (stable, so same-time events keep their causal push order), cut at the span end.
    fn finish(mut self) -> Vec<(i64, OrderEvent, bool)> {
        self.ev.sort_by_key(|e| e.0);
        let end = self.sc.end_ms;
        self.ev.retain(|e| e.0 < end);
        self.ev
    }

    /// One day's work logs: `total` hours of which `eff` share is coding and testing, the rest
    /// two of communication, docs, negotiation, invoicing. Returns the hours logged.
    fn work_day(&mut self, day: NaiveDate, total: f64, eff: f64) -> Decimal {
        let effective = total * eff;
        let mut parts = vec![
            (Activity::Coding, effective * 0.82),
            (Activity::Testing, effective * 0.18),
        ];
        let mut others = [
            (Activity::Communication, 0.45),
            (Activity::Docs, 0.2),
            (Activity::Negotiation, 0.15),
            (Activity::Invoicing, 0.2),
        ];
        dist::shuffle(self.r, &mut others);
        let (a, b) = (others[0], others[1]);
        let rest = total - effective;
        parts.push((a.0, rest * a.1 / (a.1 + b.1)));
        parts.push((b.0, rest * b.1 / (a.1 + b.1)));
        let at = date_start_ms(day) + 18 * HOUR_MS + dist::int(self.r, 0, 50) * MINUTE_MS;
        let mut sum = Decimal::ZERO;
        for (i, (activity, h)) in parts.into_iter().enumerate() {
            let hours = dist::cents(h);
            if hours <= Decimal::ZERO {
                continue;
            }
            sum += hours;
            self.push_late_ok(
                at + i as i64 * 7 * MINUTE_MS,
                OrderEvent::WorkLogged(WorkLogged {
                    freelancer_id: String::new(),
                    work_date: day,
                    hours,
                    activity,
                }),
            );
        }
        sum
    }

    /// A full-time day (about 8 h, 65% effective: 5.2 h).
    fn full_day(&mut self, day: NaiveDate) -> Decimal {
        let total = dist::gauss(self.r, 8.0, 0.6).clamp(5.0, 11.0);
        let eff = dist::gauss(self.r, 0.65, 0.06).clamp(0.45, 0.85);
        self.work_day(day, total, eff)
    }

    /// A consulting day (4-6 h, two a week: 8-12 h a week).
    fn consulting_day(&mut self, day: NaiveDate) -> Decimal {
        let total = dist::uniform(self.r, 4.0, 6.0);
        let eff = dist::gauss(self.r, 0.65, 0.06).clamp(0.45, 0.85);
        self.work_day(day, total, eff)
    }

    fn invoice(&mut self, issued: i64, gross: Decimal) {
        self.invoices += 1;
        let invoice_id = format!("inv-{:06}-{:02}", self.deal_no, self.invoices);
        let due = issued + self.due_days * DAY_MS;
        self.push(
            issued,
            OrderEvent::InvoiceIssued(InvoiceIssued {
                invoice_id: invoice_id.clone(),
                gross,
                currency: self.currency.to_string(),
                issued_at: issued,
                due_at: due,
            }),
        );
        let days = self.due_days as f64;
        let pay = |b: &mut Self, at: i64, gross: Decimal| {
            b.push_late_ok(
                at,
                OrderEvent::PaymentSettled(PaymentSettled {
                    invoice_id: invoice_id.clone(),
                    gross,
                    currency: b.currency.to_string(),
                    settled_at: at,
                }),
            )
        };
        let on_time =
            |b: &mut Self| issued + (dist::uniform(b.r, 0.2, days * 0.9) * DAY_MS as f64) as i64;
        let late = |b: &mut Self, lo: f64, hi: f64| {
            due + (dist::uniform(b.r, lo, hi) * DAY_MS as f64) as i64
        };
        let u = dist::unit(self.r);
        if u < 0.72 {
            let t = on_time(self);
            pay(self, t, gross);
        } else if u < 0.86 {
            let t = late(self, 1.0, 30.0);
            pay(self, t, gross);
        } else if u < 0.95 {
            let first = round_cents(gross * dist::cents(dist::uniform(self.r, 0.3, 0.7)));
            let t = on_time(self);
            pay(self, t, first);
            if dist::chance(self.r, 0.6) {
                let t = late(self, 5.0, 40.0);
                pay(self, t, gross - first);
            }
        }
        // else: never paid (about 5%), so receivables and overdue aging exist.
    }

    /// Fixed price with milestones. Returns the end of work and, for a retained single-delivery
    /// client, when they come back.
    fn fixed(
        &mut self,
        start: NaiveDate,
        total: Decimal,
        m: u32,
        weeks: f64,
        single: bool,
        days_share: f64,
    ) -> (i64, Option<i64>) {
        let start_ms = date_start_ms(start);
        let dur = (weeks * 7.0 * DAY_MS as f64) as i64;
        let u = dist::unit(self.r);
        // Multi-milestone outcome: completed 62%, churned 28%, cancelled 10%.
        let cut = (!single && u >= 0.62).then(|| {
            (
                start_ms + (dur as f64 * dist::uniform(self.r, 0.3, 0.9)) as i64,
                u < 0.90,
            )
        });
        let part = round_cents(total / Decimal::from(m));
        let mut prev = start;
        let mut last_delivered: Option<i64> = None;
        let mut delayed = false;
        for i in 1..=m {
            let due = date_of(start_ms + dur * i as i64 / m as i64);
            let sigma = if self.sc.reworked(date_start_ms(due)) {
                2.3
            } else {
                17.0
            };
            let dev = dist::gauss(self.r, 0.0, sigma).round() as i64;
            let delivered =
                (due + Duration::days(dev)).max(prev + Duration::days(if i == 1 { 2 } else { 1 }));
            let at = date_start_ms(delivered)
                + (dist::uniform(self.r, 10.0, 16.0) * HOUR_MS as f64) as i64;
            if cut.is_some_and(|(c, _)| at >= c) {
                break;
            }
            delayed |= (delivered - due).num_days() > 7;
            let amount = if i == m {
                total - part * Decimal::from(m - 1)
            } else {
                part
            };
            self.push(
                at,
                OrderEvent::MilestoneDelivered(MilestoneDelivered {
                    milestone_id: format!("ms-{:06}-{i}", self.deal_no),
                    amount,
                    currency: self.currency.to_string(),
                    due_date: due,
                    delivered_date: delivered,
                }),
            );
            let issued = at + (dist::uniform(self.r, 1.0, 30.0) * HOUR_MS as f64) as i64;
            self.invoice(issued, amount);
            prev = delivered;
            last_delivered = Some(at);
        }
        let work_end = match cut {
            Some((c, _)) => c,
            None => date_start_ms(prev) + DAY_MS,
        };
        let mut day = start;
        while date_start_ms(day) < work_end - if cut.is_some() { DAY_MS } else { 0 } {
            let p = if is_workday(day) {
                days_share
            } else {
                0.1 * days_share
            };
            if dist::chance(self.r, p) {
                self.full_day(day);
            }
            day += Duration::days(1);
        }
        let contract_id = format!("ct-{:06}", self.deal_no);
        let end = |outcome, reason: Option<&str>| {
            OrderEvent::ContractEnded(ContractEnded {
                contract_id: contract_id.clone(),
                outcome,
                churn_reason: reason.map(str::to_string),
            })
        };
        match cut {
            Some((c, churned)) => {
                let at = c + (dist::uniform(self.r, 0.0, 3.0) * DAY_MS as f64) as i64;
                let (outcome, reason) = if churned {
                    let reason = if delayed && dist::chance(self.r, 0.6) {
                        "go_module_incompatibility"
                    } else {
                        dist::weighted(self.r, &catalog::CHURN_REASONS)
                    };
                    (Outcome::Churned, reason)
                } else {
                    (
                        Outcome::Cancelled,
                        dist::weighted(self.r, &catalog::CANCEL_REASONS),
                    )
                };
                self.push(at, end(outcome, Some(reason)));
                (c, None)
            }
            None => {
                let last = last_delivered.unwrap_or(work_end);
                let at = last + (dist::uniform(self.r, 0.5, 5.0) * DAY_MS as f64) as i64;
                if !single {
                    self.push(at, end(Outcome::Completed, None));
                    return (work_end, None);
                }
                // Single delivery: 17% of clients are retained and come back with a new deal.
                if dist::chance(self.r, 0.17) {
                    self.push(at, end(Outcome::Completed, None));
                    let back = at + (dist::uniform(self.r, 7.0, 28.0) * DAY_MS as f64) as i64;
                    return (work_end, Some(back));
                }
                let reason = if delayed && dist::chance(self.r, 0.6) {
                    "go_module_incompatibility"
                } else {
                    "single_delivery"
                };
                self.push(at, end(Outcome::Churned, Some(reason)));
                (work_end, None)
            }
        }
    }

    /// Hourly work invoiced weekly (Upwork's hourly cycle) or monthly. Returns the end of work.
    fn hourly(
        &mut self,
        start: NaiveDate,
        rate: Decimal,
        weeks: f64,
        full_time: bool,
        weekly: bool,
    ) -> i64 {
        let start_ms = date_start_ms(start);
        let term_end = start_ms + (weeks * 7.0 * DAY_MS as f64) as i64;
        let cut = dist::chance(self.r, 0.12).then(|| {
            start_ms + ((term_end - start_ms) as f64 * dist::uniform(self.r, 0.2, 0.9)) as i64
        });
        let work_end = cut.unwrap_or(term_end).min(self.sc.end_ms + DAY_MS);
        let period_of = |d: NaiveDate| {
            if weekly {
                gigstream_core::time::week_start(d)
            } else {
                gigstream_core::time::month_start(d)
            }
        };
        let mut day = start;
        let mut period = period_of(start);
        let mut hours = Decimal::ZERO;
        let mut week_days: Vec<u32> = Vec::new();
        let mut week = gigstream_core::time::week_start(start);
        while date_start_ms(day) < work_end - DAY_MS {
            if period_of(day) != period {
                self.flush_hours(&mut hours, rate, date_start_ms(period_of(day)));
                period = period_of(day);
            }
            if full_time {
                if is_workday(day) && dist::chance(self.r, 0.95) {
                    hours += self.full_day(day);
                }
            } else {
                let ws = gigstream_core::time::week_start(day);
                if ws != week || week_days.is_empty() {
                    week = ws;
                    let mut all = [0u32, 1, 2, 3, 4];
                    dist::shuffle(self.r, &mut all);
                    week_days = all[..2].to_vec();
                }
                if week_days.contains(&day.weekday().num_days_from_monday()) {
                    hours += self.consulting_day(day);
                }
            }
            day += Duration::days(1);
        }
        self.flush_hours(&mut hours, rate, date_start_ms(day));
        let contract_id = format!("ct-{:06}", self.deal_no);
        if let Some(c) = cut {
            let reason = dist::weighted(self.r, &catalog::CHURN_REASONS);
            let at = c + (dist::uniform(self.r, 0.0, 2.0) * DAY_MS as f64) as i64;
            self.push(
                at,
                OrderEvent::ContractEnded(ContractEnded {
                    contract_id,
                    outcome: Outcome::Churned,
                    churn_reason: Some(reason.to_string()),
                }),
            );
        } else {
            let at = term_end + (dist::uniform(self.r, 0.0, 3.0) * DAY_MS as f64) as i64;
            self.push(
                at,
                OrderEvent::ContractEnded(ContractEnded {
                    contract_id,
                    outcome: Outcome::Completed,
                    churn_reason: None,
                }),
            );
        }
        work_end
    }

    fn flush_hours(&mut self, hours: &mut Decimal, rate: Decimal, period_end: i64) {
        if *hours > Decimal::ZERO {
            let issued = period_end + (dist::uniform(self.r, 2.0, 30.0) * HOUR_MS as f64) as i64;
            self.invoice(issued, round_cents(*hours * rate));
        }
        *hours = Decimal::ZERO;
    }

    /// A monthly retainer (with consulting days) or sponsorship (no logged work), invoiced at the
    /// start of each month of the term. Returns the end of work.
    fn monthly(&mut self, start: NaiveDate, amount: Decimal, months: u32, consulting: bool) -> i64 {
        let contract_id = format!("ct-{:06}", self.deal_no);
        let mut end_at = None;
        for k in 0..months {
            let Some(month) = start.checked_add_months(Months::new(k)) else {
                break;
            };
            let month_ms = date_start_ms(month);
            if month_ms >= self.sc.end_ms {
                break;
            }
            // Sponsors leave at about 5% a month, retainer clients at about 1%.
            let leave = if consulting { 0.01 } else { 0.05 };
            if k > 0 && dist::chance(self.r, leave) {
                let reason = if consulting {
                    dist::weighted(self.r, &catalog::CHURN_REASONS)
                } else {
                    dist::weighted(self.r, &[("budget_cut", 0.6), ("price", 0.4)])
                };
                let at = month_ms + (dist::uniform(self.r, 0.0, 10.0) * DAY_MS as f64) as i64;
                self.push(
                    at,
                    OrderEvent::ContractEnded(ContractEnded {
                        contract_id: contract_id.clone(),
                        outcome: Outcome::Churned,
                        churn_reason: Some(reason.to_string()),
                    }),
                );
                end_at = Some(at);
                break;
            }
            let issued = month_ms + (dist::uniform(self.r, 8.0, 12.0) * HOUR_MS as f64) as i64;
            self.invoice(issued, amount);
            if consulting {
                let next = date_start_ms(
                    start
                        .checked_add_months(Months::new(k + 1))
                        .unwrap_or(month + Duration::days(30)),
                );
                let mut day = month;
                let mut week = None;
                let mut days: Vec<u32> = Vec::new();
                while date_start_ms(day) < next.min(self.sc.end_ms) {
                    let ws = gigstream_core::time::week_start(day);
                    if week != Some(ws) {
                        week = Some(ws);
                        let mut all = [0u32, 1, 2, 3, 4];
                        dist::shuffle(self.r, &mut all);
                        days = all[..2].to_vec();
                    }
                    if days.contains(&day.weekday().num_days_from_monday()) {
                        self.consulting_day(day);
                    }
                    day += Duration::days(1);
                }
            }
        }
        let term_end = date_start_ms(
            start
                .checked_add_months(Months::new(months))
                .unwrap_or(start),
        );
        if end_at.is_none() && term_end < self.sc.end_ms {
            self.push(
                term_end,
                OrderEvent::ContractEnded(ContractEnded {
                    contract_id,
                    outcome: Outcome::Completed,
                    churn_reason: None,
                }),
            );
        }
        end_at.unwrap_or(term_end)
    }
}
