//! The `orders` topic: deals, their contract terms, invoices and settled payments.
//!
//! One deal's events arrive in log order (they share a key), so per-deal checks (a payment needs
//! a signed contract and an issued invoice) are exact. Everything that mixes deals is rendered
//! from the per-payment rows at output time, so it does not depend on how deals interleave.

use crate::payments::{payment_figures, Payment};
use crate::reject;
use gigstream_core::event::{
    ContractEnded, ContractSigned, IncomeType, InvoiceIssued, OrderEvent, OrderRecord,
    PaymentSettled, PricingModel, TaxRegime,
};
use gigstream_core::refdata::SettlementCycle;
use gigstream_core::time::date_of;
use gigstream_core::{Decimal, RefData, Rejection};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The largest amount billing accepts in one event. ClickHouse money is `Decimal(18, 2)`, so
/// anything near this is a producer bug; refusing it also keeps the sums far from overflow.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000_000;

/// Order-side state: deals by id and every accepted payment by its event id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Orders {
    pub deals: BTreeMap<String, Deal>,
    pub payments: BTreeMap<String, Payment>,
}

/// A deal billing knows: one exists from its ContractSigned on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Deal {
    pub contract: Contract,
    /// Invoices of this deal by invoice id.
    pub invoices: BTreeMap<String, Invoice>,
}

/// The terms a ContractSigned fixes for every later invoice and payment of the deal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Contract {
    pub contract_id: String,
    pub platform: String,
    pub pricing_model: PricingModel,
    pub currency: String,
    pub tax_regime: TaxRegime,
    pub income_type: IncomeType,
    /// Resolved once at signing: the contract's own cycle or the platform's default.
    pub settlement_cycle: SettlementCycle,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Invoice {
    pub gross: Decimal,
    pub currency: String,
    pub issued_at: i64,
    pub due_at: i64,
    /// Sum of the gross of the payments against it.
    pub paid: Decimal,
    pub payments: u64,
    pub last_paid_at: Option<i64>,
}

/// How a settlement cycle is written in reference data and shown in the tables.
pub fn cycle_name(c: SettlementCycle) -> String {
    match c {
        SettlementCycle::Days(n) => format!("T+{n}"),
        SettlementCycle::Weekly => "weekly".to_string(),
        SettlementCycle::Monthly => "monthly".to_string(),
    }
}

fn check_amount(what: &str, event_id: &str, v: Decimal) -> Result<(), Rejection> {
    if v > Decimal::from(MAX_AMOUNT) {
        return Err(reject(
            "amount_out_of_range",
            format!("{what} {v} in event {event_id} exceeds {MAX_AMOUNT}"),
        ));
    }
    Ok(())
}

impl Orders {
    /// Adds the deals and payments of `other`, a state of other input partitions.
    ///
    /// A deal's events share its key and so a partition: under a split by partition a deal is
    /// in one state only and this is a plain union. Should the same deal still be in both (the
    /// same key fed to two states), its invoices are combined order-independently (payments and
    /// paid amounts add, the latest payment time wins) and our contract terms are kept.
    /// Payments are keyed by event id, which the runtime deduplicates: a payment in both states
    /// is the same event, kept once.
    pub fn merge(&mut self, other: &Orders) {
        for (deal_id, theirs) in &other.deals {
            let Some(mine) = self.deals.get_mut(deal_id) else {
                self.deals.insert(deal_id.clone(), theirs.clone());
                continue;
            };
            for (invoice_id, inv) in &theirs.invoices {
                match mine.invoices.get_mut(invoice_id) {
                    Some(m) => {
                        m.paid += inv.paid;
                        m.payments += inv.payments;
                        m.last_paid_at = m.last_paid_at.max(inv.last_paid_at);
                    }
                    None => {
                        mine.invoices.insert(invoice_id.clone(), inv.clone());
                    }
                }
            }
        }
        for (event_id, p) in &other.payments {
            if !self.payments.contains_key(event_id) {
                self.payments.insert(event_id.clone(), p.clone());
            }
        }
    }

    /// Folds one order event; on error nothing has changed.
    pub fn apply(&mut self, rd: &RefData, rec: &OrderRecord) -> Result<(), Rejection> {
        match &rec.payload {
            OrderEvent::ContractSigned(e) => self.contract_signed(rd, rec, e),
            OrderEvent::InvoiceIssued(e) => self.invoice_issued(rec, e),
            OrderEvent::PaymentSettled(e) => self.payment_settled(rd, rec, e),
            OrderEvent::ContractEnded(e) => self.contract_ended(rec, e),
            // Pre-contract and delivery events carry no money billing accounts for.
            OrderEvent::LeadPosted(_)
            | OrderEvent::ProposalSubmitted(_)
            | OrderEvent::ClientResponded(_)
            | OrderEvent::WorkLogged(_)
            | OrderEvent::MilestoneDelivered(_) => Ok(()),
        }
    }

    fn contract_signed(
        &mut self,
        rd: &RefData,
        rec: &OrderRecord,
        e: &ContractSigned,
    ) -> Result<(), Rejection> {
        if let Some(c) = self.deals.get(&rec.deal_id).map(|d| &d.contract) {
            return Err(reject(
                "contract_already_signed",
                format!(
                    "deal {} already has contract {}; ContractSigned {} (event {}) is a second one",
                    rec.deal_id, c.contract_id, e.contract_id, rec.event_id
                ),
            ));
        }
        if rd.platform(&e.platform).is_none() {
            return Err(reject(
                "unknown_platform",
                format!(
                    "contract {} (event {}) names platform '{}' missing from reference data",
                    e.contract_id, rec.event_id, e.platform
                ),
            ));
        }
        let labor = &rd.tax.cn_labor_remuneration;
        if e.tax_regime == TaxRegime::CnLaborRemuneration && e.currency != labor.currency {
            return Err(reject(
                "tax_currency_mismatch",
                format!(
                    "contract {} (event {}) is in {} but the cn_labor_remuneration table is in {}",
                    e.contract_id, rec.event_id, e.currency, labor.currency
                ),
            ));
        }
        let cycle = rd
            .settlement_cycle(&e.platform, e.pricing_model, e.settlement_cycle.as_deref())
            .map_err(|m| {
                reject(
                    "invalid_settlement_cycle",
                    format!("contract {} (event {}): {m}", e.contract_id, rec.event_id),
                )
            })?;
        let contract = Contract {
            contract_id: e.contract_id.clone(),
            platform: e.platform.clone(),
            pricing_model: e.pricing_model,
            currency: e.currency.clone(),
            tax_regime: e.tax_regime,
            income_type: e.income_type,
            settlement_cycle: cycle,
        };
        self.deals.insert(
            rec.deal_id.clone(),
            Deal {
                contract,
                invoices: BTreeMap::new(),
            },
        );
        Ok(())
    }

    fn contract_of(&self, rec: &OrderRecord, what: &str) -> Result<&Contract, Rejection> {
        self.deals
            .get(&rec.deal_id)
            .map(|d| &d.contract)
            .ok_or_else(|| {
                reject(
                    "unknown_contract",
                    format!(
                        "{what} (event {}) is on deal {} which has no signed contract",
                        rec.event_id, rec.deal_id
                    ),
                )
            })
    }

    fn invoice_issued(&mut self, rec: &OrderRecord, e: &InvoiceIssued) -> Result<(), Rejection> {
        let what = format!("invoice {}", e.invoice_id);
        let contract = self.contract_of(rec, &what)?;
        if e.currency != contract.currency {
            return Err(reject(
                "currency_mismatch",
                format!(
                    "invoice {} (event {}) is in {} but contract {} of deal {} is in {}",
                    e.invoice_id,
                    rec.event_id,
                    e.currency,
                    contract.contract_id,
                    rec.deal_id,
                    contract.currency
                ),
            ));
        }
        check_amount("invoice gross", &rec.event_id, e.gross)?;
        let deal = self
            .deals
            .get_mut(&rec.deal_id)
            .expect("invariant: contract_of found the deal");
        if deal.invoices.contains_key(&e.invoice_id) {
            return Err(reject(
                "duplicate_invoice",
                format!(
                    "invoice {} of deal {} was already issued; event {} issues it again",
                    e.invoice_id, rec.deal_id, rec.event_id
                ),
            ));
        }
        deal.invoices.insert(
            e.invoice_id.clone(),
            Invoice {
                gross: e.gross,
                currency: e.currency.clone(),
                issued_at: e.issued_at,
                due_at: e.due_at,
                paid: Decimal::ZERO,
                payments: 0,
                last_paid_at: None,
            },
        );
        Ok(())
    }

    fn payment_settled(
        &mut self,
        rd: &RefData,
        rec: &OrderRecord,
        e: &PaymentSettled,
    ) -> Result<(), Rejection> {
        let what = format!("payment of invoice {}", e.invoice_id);
        let contract = self.contract_of(rec, &what)?;
        if e.currency != contract.currency {
            return Err(reject(
                "currency_mismatch",
                format!(
                    "payment (event {}) of invoice {} is in {} but contract {} of deal {} is in {}",
                    rec.event_id,
                    e.invoice_id,
                    e.currency,
                    contract.contract_id,
                    rec.deal_id,
                    contract.currency
                ),
            ));
        }
        let deal = self
            .deals
            .get(&rec.deal_id)
            .expect("invariant: contract_of found the deal");
        if !deal.invoices.contains_key(&e.invoice_id) {
            return Err(reject(
                "unknown_invoice",
                format!(
                    "payment (event {}) is for invoice {} which deal {} never issued",
                    rec.event_id, e.invoice_id, rec.deal_id
                ),
            ));
        }
        check_amount("payment gross", &rec.event_id, e.gross)?;
        let settle_date = date_of(e.settled_at);
        let (Some(platform), Some(fee_pct)) = (
            rd.platform(&contract.platform),
            rd.fee_pct(&contract.platform, settle_date),
        ) else {
            return Err(reject(
                "unknown_platform",
                format!(
                    "payment (event {}) is on platform '{}' missing from reference data",
                    rec.event_id, contract.platform
                ),
            ));
        };
        let figures = payment_figures(&rd.tax, contract.tax_regime, e.gross, fee_pct);
        let payment = Payment {
            deal_id: rec.deal_id.clone(),
            contract_id: contract.contract_id.clone(),
            invoice_id: e.invoice_id.clone(),
            platform: contract.platform.clone(),
            pricing_model: contract.pricing_model,
            income_type: contract.income_type,
            currency: e.currency.clone(),
            settled_at: e.settled_at,
            settle_date,
            gross: e.gross,
            fee_pct,
            platform_fee: figures.platform_fee,
            tax_regime: contract.tax_regime,
            tax: figures.tax,
            tax_withheld_by_platform: platform.tax_withheld,
            net: figures.net,
            settlement_cycle: contract.settlement_cycle,
            due_date: contract.settlement_cycle.due_date(date_of(rec.occurred_at)),
        };
        // All checks passed: commit.
        let invoice = self
            .deals
            .get_mut(&rec.deal_id)
            .and_then(|d| d.invoices.get_mut(&e.invoice_id))
            .expect("invariant: the invoice was found above");
        invoice.paid += e.gross;
        invoice.payments += 1;
        invoice.last_paid_at = Some(
            invoice
                .last_paid_at
                .map_or(e.settled_at, |t| t.max(e.settled_at)),
        );
        self.payments.insert(rec.event_id.clone(), payment);
        Ok(())
    }

    fn contract_ended(&mut self, rec: &OrderRecord, e: &ContractEnded) -> Result<(), Rejection> {
        let what = format!("end of contract {}", e.contract_id);
        let contract = self.contract_of(rec, &what)?;
        if contract.contract_id != e.contract_id {
            return Err(reject(
                "unknown_contract",
                format!(
                    "ContractEnded (event {}) names contract {} but deal {} signed {}",
                    rec.event_id, e.contract_id, rec.deal_id, contract.contract_id
                ),
            ));
        }
        // Billing keeps invoicing and collecting after the end; nothing to record.
        Ok(())
    }
}
