use super::symbols;
use crate::money::{serde_decimal, Decimal};
use crate::time::{serde_date, serde_ts};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

symbols!(
    /// Who the client is (DOMAIN.md: startups 41%, cross-border SaaS 29%, blockchain 18%, other 12%).
    ClientSegment {
        Startup = "startup",
        CrossBorderSaas = "cross_border_saas",
        BlockchainInfra = "blockchain_infra",
        Other = "other",
    }
);

symbols!(
    /// How the work is priced.
    PricingModel {
        Fixed = "fixed",
        Hourly = "hourly",
        Retainer = "retainer",
        Subscription = "subscription",
    }
);

symbols!(
    /// A client's answer to a proposal.
    Response {
        Interview = "interview",
        Declined = "declined",
        NoResponse = "no_response",
    }
);

symbols!(
    /// Which tax rule applies to a contract's payments (tables in `reference/tax.toml`).
    TaxRegime {
        /// China 劳务报酬: withheld per payment.
        CnLaborRemuneration = "cn_labor_remuneration",
        /// China 经营所得: self-declared on the year; the pipeline shows an estimate.
        CnBusinessIncome = "cn_business_income",
        /// No tax computed here (foreign client, handled elsewhere).
        None = "none",
    }
);

symbols!(
    /// What kind of income a contract brings.
    IncomeType {
        Project = "project",
        Consulting = "consulting",
        Sponsorship = "sponsorship",
    }
);

symbols!(
    /// What logged hours were spent on; `coding` and `testing` count as effective work.
    Activity {
        Coding = "coding",
        Communication = "communication",
        Testing = "testing",
        Docs = "docs",
        Negotiation = "negotiation",
        Invoicing = "invoicing",
    }
);

symbols!(
    /// How a contract ended.
    Outcome {
        Completed = "completed",
        Cancelled = "cancelled",
        Churned = "churned",
    }
);

/// The events of the `orders` topic, one deal's life from lead to end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OrderEvent {
    LeadPosted(LeadPosted),
    ProposalSubmitted(ProposalSubmitted),
    ClientResponded(ClientResponded),
    ContractSigned(ContractSigned),
    WorkLogged(WorkLogged),
    MilestoneDelivered(MilestoneDelivered),
    InvoiceIssued(InvoiceIssued),
    PaymentSettled(PaymentSettled),
    ContractEnded(ContractEnded),
}

impl OrderEvent {
    pub fn type_name(&self) -> &'static str {
        match self {
            OrderEvent::LeadPosted(_) => "LeadPosted",
            OrderEvent::ProposalSubmitted(_) => "ProposalSubmitted",
            OrderEvent::ClientResponded(_) => "ClientResponded",
            OrderEvent::ContractSigned(_) => "ContractSigned",
            OrderEvent::WorkLogged(_) => "WorkLogged",
            OrderEvent::MilestoneDelivered(_) => "MilestoneDelivered",
            OrderEvent::InvoiceIssued(_) => "InvoiceIssued",
            OrderEvent::PaymentSettled(_) => "PaymentSettled",
            OrderEvent::ContractEnded(_) => "ContractEnded",
        }
    }
}

/// A client posted work on a platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadPosted {
    /// Platform id as in `reference/platforms.toml` (`upwork`, `codingmart`, ...).
    pub platform: String,
    pub client_id: String,
    pub client_segment: ClientSegment,
    /// ISO 3166-1 alpha-2.
    pub client_country: String,
    /// Work category (`data_sync`, `observability`, `cli_tool`, ...).
    pub category: String,
    pub skill_tags: Vec<String>,
    #[serde(with = "serde_decimal")]
    pub budget_min: Decimal,
    #[serde(with = "serde_decimal")]
    pub budget_max: Decimal,
    /// ISO 4217.
    pub currency: String,
}

/// We sent a proposal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProposalSubmitted {
    pub freelancer_id: String,
    /// The quoted price (for hourly work, the hourly rate).
    #[serde(with = "serde_decimal")]
    pub quote: Decimal,
    pub currency: String,
    pub pricing_model: PricingModel,
    #[serde(with = "serde_decimal")]
    pub estimated_hours: Decimal,
}

/// The client answered (or did not) a proposal; the event time is when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientResponded {
    pub freelancer_id: String,
    pub response: Response,
}

/// A deal became a contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContractSigned {
    pub contract_id: String,
    pub freelancer_id: String,
    pub client_id: String,
    pub platform: String,
    pub pricing_model: PricingModel,
    /// Total (fixed), per period (retainer, subscription); absent for hourly.
    #[serde(default, with = "serde_decimal::option")]
    pub amount: Option<Decimal>,
    /// Hourly rate; present for hourly contracts.
    #[serde(default, with = "serde_decimal::option")]
    pub hourly_rate: Option<Decimal>,
    pub currency: String,
    /// `T+N`, `weekly` or `monthly`; absent means the platform's default.
    #[serde(default)]
    pub settlement_cycle: Option<String>,
    pub tax_regime: TaxRegime,
    pub income_type: IncomeType,
}

/// Hours worked on a contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkLogged {
    pub freelancer_id: String,
    #[serde(with = "serde_date")]
    pub work_date: NaiveDate,
    #[serde(with = "serde_decimal")]
    pub hours: Decimal,
    pub activity: Activity,
}

/// A milestone was delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MilestoneDelivered {
    pub milestone_id: String,
    #[serde(with = "serde_decimal")]
    pub amount: Decimal,
    pub currency: String,
    #[serde(with = "serde_date")]
    pub due_date: NaiveDate,
    #[serde(with = "serde_date")]
    pub delivered_date: NaiveDate,
}

/// We invoiced the client (through the platform or directly).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceIssued {
    pub invoice_id: String,
    /// Gross amount the client owes.
    #[serde(with = "serde_decimal")]
    pub gross: Decimal,
    pub currency: String,
    #[serde(with = "serde_ts")]
    pub issued_at: i64,
    /// When payment is due (for receivables aging).
    #[serde(with = "serde_ts")]
    pub due_at: i64,
}

/// The client paid an invoice (all or part); fees and tax apply to this gross payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentSettled {
    pub invoice_id: String,
    #[serde(with = "serde_decimal")]
    pub gross: Decimal,
    pub currency: String,
    #[serde(with = "serde_ts")]
    pub settled_at: i64,
}

/// The engagement ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContractEnded {
    pub contract_id: String,
    pub outcome: Outcome,
    /// Why the client left (for `churned` and `cancelled`).
    #[serde(default)]
    pub churn_reason: Option<String>,
}
