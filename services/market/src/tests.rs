//! Projection-level tests: rejections, order independence, state round trips, table shape.

use crate::tables::cmp_key;
use crate::testkit::*;
use crate::Market;
use gigstream_core::event::*;
use gigstream_core::{Event, Projection, RefData};

/// Applies `event` to a copy of `m`, expects the rejection `code` and an unchanged state.
fn assert_rejected(m: &Market, event: Event, code: &str) {
    let rd = RefData::builtin();
    let mut after = m.clone();
    let err = after.apply(&rd, &event).expect_err("the event is rejected");
    assert_eq!(err.code, code, "{err}");
    assert!(!err.detail.is_empty());
    assert_eq!(&after, m, "a rejection leaves the state unchanged ({code})");
}

#[test]
fn business_rule_failures_are_rejected_without_changing_state() {
    use PricingModel::Fixed;
    let m = run(&in_deal_order(&scenario()));
    // Events for a deal whose lead was never seen.
    assert_rejected(
        &m,
        proposal("dx", "2026-03-05T00:00:00Z", "f1", "10", "USD", Fixed),
        "unknown_deal",
    );
    assert_rejected(
        &m,
        sign("dx", "2026-03-05T00:00:00Z", "cx", "f1", Fixed, "10", "USD"),
        "unknown_deal",
    );
    assert_rejected(
        &m,
        respond("dx", "2026-03-05T00:00:00Z", "f1", Response::Declined),
        "unknown_deal",
    );
    assert_rejected(
        &m,
        work(
            "dx",
            "2026-03-05T00:00:00Z",
            "f1",
            "2026-03-05",
            "1",
            Activity::Coding,
        ),
        "unknown_deal",
    );
    assert_rejected(
        &m,
        end("dx", "2026-03-05T00:00:00Z", "cx", Outcome::Completed, None),
        "unknown_deal",
    );
    // A second lead for a deal.
    assert_rejected(
        &m,
        lead(
            "d1",
            "2026-03-05T00:00:00Z",
            "upwork",
            ClientSegment::Other,
            "x",
            &[],
            "USD",
        ),
        "duplicate_lead",
    );
    // d7 has a lead only: no answer, contract or hours before a proposal / contract.
    assert_rejected(
        &m,
        respond("d7", "2026-03-05T00:00:00Z", "f1", Response::Interview),
        "no_proposal",
    );
    assert_rejected(
        &m,
        sign("d7", "2026-03-05T00:00:00Z", "c7", "f1", Fixed, "10", "USD"),
        "no_proposal",
    );
    assert_rejected(
        &m,
        work(
            "d7",
            "2026-03-05T00:00:00Z",
            "f1",
            "2026-03-05",
            "1",
            Activity::Coding,
        ),
        "no_contract",
    );
    assert_rejected(
        &m,
        end("d7", "2026-03-05T00:00:00Z", "c7", Outcome::Completed, None),
        "no_contract",
    );
    // d2 has a proposal but no contract.
    assert_rejected(
        &m,
        work(
            "d2",
            "2026-03-05T00:00:00Z",
            "f1",
            "2026-03-05",
            "1",
            Activity::Coding,
        ),
        "no_contract",
    );
    // d1 is signed and ended.
    assert_rejected(
        &m,
        sign(
            "d1",
            "2026-03-05T00:00:00Z",
            "c1b",
            "f1",
            Fixed,
            "10",
            "USD",
        ),
        "duplicate_contract",
    );
    assert_rejected(
        &m,
        proposal("d1", "2026-03-05T00:00:00Z", "f2", "10", "USD", Fixed),
        "deal_closed",
    );
    assert_rejected(
        &m,
        end(
            "d1",
            "2026-04-02T00:00:00Z",
            "c1",
            Outcome::Churned,
            Some("late"),
        ),
        "contract_ended",
    );
    assert_rejected(
        &m,
        end("d1", "2026-04-02T00:00:00Z", "c9", Outcome::Churned, None),
        "unknown_contract",
    );
    // Another topic's event.
    let probe = Event::Telemetry(TelemetryRecord {
        event_id: "t-1".into(),
        occurred_at: ts("2026-03-05T00:00:00Z"),
        service_id: "svc".into(),
        schema_version: SCHEMA_VERSION,
        trace_id: None,
        payload: TelemetryEvent::ProbeResult(ProbeResult {
            probe_region: "eu".into(),
            ok: true,
            latency_ms: 5,
        }),
    });
    assert_rejected(&m, probe, "wrong_topic");
}

#[test]
fn money_events_need_a_known_deal_and_change_nothing_else() {
    let m = run(&in_deal_order(&scenario()));
    let paid = |deal: &str| {
        order(
            deal,
            "2026-03-06T00:00:00Z",
            OrderEvent::PaymentSettled(PaymentSettled {
                invoice_id: "i-1".into(),
                gross: dec("100"),
                currency: "USD".into(),
                settled_at: ts("2026-03-06T00:00:00Z"),
            }),
        )
    };
    assert_rejected(&m, paid("dx"), "unknown_deal");
    let rd = RefData::builtin();
    let mut after = m.clone();
    after.apply(&rd, &paid("d1")).unwrap();
    assert_eq!(after, m);
}

#[test]
fn any_interleaving_of_deals_gives_the_same_tables() {
    let deals = scenario();
    let base = run(&in_deal_order(&deals));
    let expected = tables_of(&base);
    let reversed: Vec<Vec<Event>> = deals.iter().rev().cloned().collect();
    let mut orders = vec![in_deal_order(&reversed)];
    orders.extend((1..=8).map(|seed| interleave(&deals, seed)));
    for (i, events) in orders.iter().enumerate() {
        assert_ne!(
            events,
            &in_deal_order(&deals),
            "interleaving {i} differs from the base order"
        );
        let m = run(events);
        assert_eq!(m, base, "state after interleaving {i}");
        assert_eq!(tables_of(&m), expected, "tables after interleaving {i}");
    }
}

#[test]
fn state_round_trips_through_messagepack_mid_stream() {
    let events = interleave(&scenario(), 42);
    let rd = RefData::builtin();
    let (first, rest) = events.split_at(events.len() / 2);
    let m = run(first);
    assert!(
        m.deal_count() > 0 && m.deal_count() < 7,
        "the cut falls mid-stream"
    );

    let bytes = rmp_serde::to_vec(&m).unwrap();
    let mut restored: Market = rmp_serde::from_slice(&bytes).unwrap();
    assert_eq!(restored, m);
    let named: Market = rmp_serde::from_slice(&rmp_serde::to_vec_named(&m).unwrap()).unwrap();
    assert_eq!(named, m);
    // The same bytes again: serialisation is deterministic.
    assert_eq!(rmp_serde::to_vec(&restored).unwrap(), bytes);

    for e in rest {
        restored.apply(&rd, e).unwrap();
    }
    let straight = run(&events);
    assert_eq!(restored, straight);
    assert_eq!(tables_of(&restored), tables_of(&straight));
}

#[test]
fn state_round_trips_through_json_too() {
    let m = run(&in_deal_order(&scenario()));
    let json = serde_json::to_string(&m).unwrap();
    let back: Market = serde_json::from_str(&json).unwrap();
    assert_eq!(back, m);
}

#[test]
fn tables_match_their_definitions_sorted_and_unique_by_key() {
    let m = run(&in_deal_order(&scenario()));
    let tables = tables_of(&m);
    let defs = Market::table_defs();
    assert_eq!(tables.len(), defs.len());
    for (t, def) in tables.iter().zip(defs) {
        assert!(
            std::ptr::eq(t.def, *def),
            "{} is rendered in table_defs order",
            def.name
        );
        t.check().unwrap();
        assert!(!t.rows.is_empty(), "{} has rows in the scenario", def.name);
        assert!(!def.doc.is_empty());
        for c in def.columns {
            assert!(!c.doc.is_empty(), "{}.{} is documented", def.name, c.name);
        }
        for k in def.key {
            assert!(
                def.column_index(k).is_some(),
                "{} key column {k} exists",
                def.name
            );
        }
        for w in t.rows.windows(2) {
            assert!(
                cmp_key(def, &w[0], &w[1]).is_lt(),
                "{} rows sorted and unique: {:?} then {:?}",
                def.name,
                w[0],
                w[1]
            );
        }
    }
    assert_eq!(Market::NAME, "market");
    assert_eq!(Market::topics(), &[Topic::Orders]);
}

#[test]
fn an_empty_state_renders_empty_tables() {
    let m = Market::new(&RefData::builtin());
    for t in tables_of(&m) {
        assert!(t.rows.is_empty(), "{} is empty", t.def.name);
    }
}
