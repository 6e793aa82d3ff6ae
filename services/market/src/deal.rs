//! One deal's life, from its lead to the end of its contract.
//!
//! A deal is created by its `LeadPosted` and keeps the lead's attributes so that every later
//! event of the deal is attributed to the lead's platform, client segment, category and skill
//! tags. Each transition checks the business rules first and changes nothing when they fail, so
//! a [`Rejection`] always leaves the deal as it was. One deal's events arrive in log order (they
//! share the `deal_id` key, hence a partition), so the order checks here are meaningful.

use gigstream_core::event::{
    ClientResponded, ClientSegment, ContractEnded, ContractSigned, LeadPosted, Outcome,
    PricingModel, ProposalSubmitted, Response,
};
use gigstream_core::{Decimal, Rejection};
use serde::{Deserialize, Serialize};

/// The lead's attributes every later event of the deal is counted under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    pub platform: String,
    pub client_segment: ClientSegment,
    pub category: String,
    /// Sorted and deduplicated, so a tag listed twice counts once.
    pub skill_tags: Vec<String>,
    pub currency: String,
    /// Event time of the `LeadPosted`, UTC milliseconds.
    pub posted_at: i64,
}

impl Lead {
    /// The tags a count goes under: the lead's tags, or the empty tag when it listed none, so
    /// untagged demand is still visible per tag.
    pub fn tags_or_untagged(&self) -> Vec<&str> {
        if self.skill_tags.is_empty() {
            vec![""]
        } else {
            self.skill_tags.iter().map(String::as_str).collect()
        }
    }
}

/// One proposal we sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub freelancer_id: String,
    /// The quoted price (for hourly work, the hourly rate), in `currency`.
    pub quote: Decimal,
    pub currency: String,
    pub pricing_model: PricingModel,
    pub submitted_at: i64,
}

/// The signed contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contract {
    pub contract_id: String,
    pub freelancer_id: String,
    pub pricing_model: PricingModel,
    pub currency: String,
    /// What won: the hourly rate for hourly contracts, otherwise the contract amount (either
    /// falls back to the other when absent).
    pub winning_amount: Decimal,
    pub signed_at: i64,
    /// Index into [`Deal::proposals`] of the proposal that won: the last one by the contract's
    /// freelancer, or the deal's last proposal when that freelancer sent none.
    pub winning_proposal: usize,
}

/// How the contract ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ending {
    pub ended_at: i64,
    pub outcome: Outcome,
    /// Empty when the event gave none.
    pub churn_reason: String,
}

/// A deal's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deal {
    pub lead: Lead,
    /// In log order.
    pub proposals: Vec<Proposal>,
    /// Event time of the first `ClientResponded` that was an answer (interview or declined);
    /// `no_response` is the absence of an answer and does not stop the clock.
    pub first_response_at: Option<i64>,
    pub contract: Option<Contract>,
    pub ending: Option<Ending>,
}

impl Deal {
    pub fn from_lead(e: &LeadPosted, at: i64) -> Deal {
        let mut skill_tags = e.skill_tags.clone();
        skill_tags.sort();
        skill_tags.dedup();
        Deal {
            lead: Lead {
                platform: e.platform.clone(),
                client_segment: e.client_segment,
                category: e.category.clone(),
                skill_tags,
                currency: e.currency.clone(),
                posted_at: at,
            },
            proposals: Vec::new(),
            first_response_at: None,
            contract: None,
            ending: None,
        }
    }

    pub fn submit(
        &mut self,
        deal_id: &str,
        e: &ProposalSubmitted,
        at: i64,
    ) -> Result<(), Rejection> {
        if let Some(c) = &self.contract {
            return Err(Rejection::new(
                "deal_closed",
                format!(
                    "proposal on deal {deal_id} after its contract {} was signed",
                    c.contract_id
                ),
            ));
        }
        self.proposals.push(Proposal {
            freelancer_id: e.freelancer_id.clone(),
            quote: e.quote,
            currency: e.currency.clone(),
            pricing_model: e.pricing_model,
            submitted_at: at,
        });
        Ok(())
    }

    pub fn respond(
        &mut self,
        deal_id: &str,
        e: &ClientResponded,
        at: i64,
    ) -> Result<(), Rejection> {
        if self.proposals.is_empty() {
            return Err(Rejection::new(
                "no_proposal",
                format!(
                    "client response from deal {deal_id} (freelancer {}) before any proposal",
                    e.freelancer_id
                ),
            ));
        }
        if e.response != Response::NoResponse && self.first_response_at.is_none() {
            self.first_response_at = Some(at);
        }
        Ok(())
    }

    pub fn sign(&mut self, deal_id: &str, e: &ContractSigned, at: i64) -> Result<(), Rejection> {
        if let Some(c) = &self.contract {
            return Err(Rejection::new(
                "duplicate_contract",
                format!(
                    "contract {} on deal {deal_id}, which already has contract {}",
                    e.contract_id, c.contract_id
                ),
            ));
        }
        let Some(last) = self.proposals.len().checked_sub(1) else {
            return Err(Rejection::new(
                "no_proposal",
                format!(
                    "contract {} on deal {deal_id} without a proposal",
                    e.contract_id
                ),
            ));
        };
        let winning_amount = match e.pricing_model {
            PricingModel::Hourly => e.hourly_rate.or(e.amount),
            _ => e.amount.or(e.hourly_rate),
        };
        let Some(winning_amount) = winning_amount else {
            return Err(Rejection::new(
                "missing_amount",
                format!(
                    "contract {} on deal {deal_id} has neither amount nor hourly_rate",
                    e.contract_id
                ),
            ));
        };
        let winning_proposal = self
            .proposals
            .iter()
            .rposition(|p| p.freelancer_id == e.freelancer_id)
            .unwrap_or(last);
        self.contract = Some(Contract {
            contract_id: e.contract_id.clone(),
            freelancer_id: e.freelancer_id.clone(),
            pricing_model: e.pricing_model,
            currency: e.currency.clone(),
            winning_amount,
            signed_at: at,
            winning_proposal,
        });
        Ok(())
    }

    /// Hours can only be logged on a contract.
    pub fn check_work(&self, deal_id: &str) -> Result<(), Rejection> {
        if self.contract.is_none() {
            return Err(Rejection::new(
                "no_contract",
                format!("work logged on deal {deal_id}, which has no signed contract"),
            ));
        }
        Ok(())
    }

    pub fn end(&mut self, deal_id: &str, e: &ContractEnded, at: i64) -> Result<(), Rejection> {
        let Some(c) = &self.contract else {
            return Err(Rejection::new(
                "no_contract",
                format!(
                    "contract {} ended on deal {deal_id}, which has no signed contract",
                    e.contract_id
                ),
            ));
        };
        if c.contract_id != e.contract_id {
            return Err(Rejection::new(
                "unknown_contract",
                format!(
                    "contract {} ended on deal {deal_id}, whose contract is {}",
                    e.contract_id, c.contract_id
                ),
            ));
        }
        if self.ending.is_some() {
            return Err(Rejection::new(
                "contract_ended",
                format!("contract {} on deal {deal_id} already ended", e.contract_id),
            ));
        }
        self.ending = Some(Ending {
            ended_at: at,
            outcome: e.outcome,
            churn_reason: e.churn_reason.clone().unwrap_or_default(),
        });
        Ok(())
    }

    /// Milliseconds from the deal's first proposal to its first answer, if answered. Clamped at
    /// zero: event times from different producers may be slightly out of step.
    pub fn first_response_ms(&self) -> Option<i64> {
        let answered = self.first_response_at?;
        let submitted = self.proposals.first()?.submitted_at;
        Some((answered - submitted).max(0))
    }
}
