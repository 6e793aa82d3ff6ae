//! The market tables the deal generator draws from (DOMAIN.md "Market figures"): categories with
//! their price ranges and skill tags, platform mixes, response rates and response times.

use crate::dist::{self, Rng8};
use gigstream_core::event::{ClientSegment, IncomeType};
use gigstream_core::time::{HOUR_MS, MINUTE_MS};

/// How a category is priced and delivered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    /// Fixed price with 1-3 milestones; range in `currency_cny` (CNY) or USD.
    SmallFixed { lo: f64, hi: f64, cny: bool },
    /// 3-6 month microservice migration at about $8,500 a month, fixed or hourly.
    Migration,
    /// Annual advisory retainer from $85,000, invoiced monthly.
    Advisory,
    /// Long-term hourly consulting, 8-12 h a week.
    Consulting,
    /// Open-source sponsorship, about $1,200 a month.
    Sponsorship,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Category {
    pub id: &'static str,
    pub income: IncomeType,
    /// Weight within its income type.
    pub weight: f64,
    pub kind: Kind,
    pub platforms: &'static [(&'static str, f64)],
    pub tags: &'static [&'static str],
}

const CN_SMALL: &[(&str, f64)] = &[
    ("codingmart", 0.30),
    ("proginn", 0.25),
    ("oschina_crowd", 0.25),
    ("upwork", 0.12),
    ("fiverr", 0.08),
];

pub(crate) const CATEGORIES: [Category; 8] = [
    Category {
        id: "data_sync",
        income: IncomeType::Project,
        weight: 0.22,
        kind: Kind::SmallFixed {
            lo: 15_000.0,
            hi: 35_000.0,
            cny: true,
        },
        platforms: CN_SMALL,
        tags: &["kafka", "postgresql", "redis", "grpc", "go-zero"],
    },
    Category {
        id: "observability",
        income: IncomeType::Project,
        weight: 0.18,
        kind: Kind::SmallFixed {
            lo: 8_000.0,
            hi: 20_000.0,
            cny: true,
        },
        platforms: CN_SMALL,
        tags: &["prometheus", "opentelemetry", "kubernetes-operator", "ebpf"],
    },
    Category {
        id: "cli_tool",
        income: IncomeType::Project,
        weight: 0.18,
        kind: Kind::SmallFixed {
            lo: 5_000.0,
            hi: 12_000.0,
            cny: true,
        },
        platforms: CN_SMALL,
        tags: &["cobra-cli", "fyne", "wails"],
    },
    Category {
        id: "cicd_permission_cli",
        income: IncomeType::Project,
        weight: 0.14,
        kind: Kind::SmallFixed {
            lo: 1_200.0,
            hi: 3_500.0,
            cny: false,
        },
        platforms: &[
            ("upwork", 0.40),
            ("fiverr", 0.20),
            ("toptal", 0.15),
            ("clouddevs", 0.10),
            ("direct", 0.15),
        ],
        tags: &["cobra-cli", "terraform-provider", "kubernetes-operator"],
    },
    Category {
        id: "microservice_migration",
        income: IncomeType::Project,
        weight: 0.28,
        kind: Kind::Migration,
        platforms: &[
            ("upwork", 0.35),
            ("toptal", 0.25),
            ("clouddevs", 0.20),
            ("direct", 0.20),
        ],
        tags: &[
            "grpc",
            "kratos",
            "go-zero",
            "gin",
            "echo",
            "kubernetes-operator",
            "kafka",
            "postgresql",
        ],
    },
    Category {
        id: "advisory_retainer",
        income: IncomeType::Consulting,
        weight: 0.35,
        kind: Kind::Advisory,
        platforms: &[("direct", 0.45), ("toptal", 0.35), ("clouddevs", 0.20)],
        tags: &[
            "kubernetes-operator",
            "grpc",
            "opentelemetry",
            "cosmos-sdk",
            "terraform-provider",
        ],
    },
    Category {
        id: "go_consulting",
        income: IncomeType::Consulting,
        weight: 0.65,
        kind: Kind::Consulting,
        platforms: &[
            ("upwork", 0.30),
            ("toptal", 0.15),
            ("clouddevs", 0.15),
            ("proginn", 0.20),
            ("codingmart", 0.10),
            ("direct", 0.10),
        ],
        tags: &[
            "gin",
            "echo",
            "grpc",
            "kratos",
            "go-zero",
            "redis",
            "postgresql",
            "ebpf",
            "cosmos-sdk",
        ],
    },
    Category {
        id: "oss_sponsorship",
        income: IncomeType::Sponsorship,
        weight: 1.0,
        kind: Kind::Sponsorship,
        platforms: &[("github_sponsors", 0.70), ("opencollective", 0.30)],
        tags: &["cobra-cli", "prometheus", "grpc", "fyne", "wails"],
    },
];

/// Share of signed contracts by income type (DOMAIN.md: 63 / 22 / 15).
pub(crate) const INCOME_MIX: [(IncomeType, f64); 3] = [
    (IncomeType::Project, 0.63),
    (IncomeType::Consulting, 0.22),
    (IncomeType::Sponsorship, 0.15),
];

pub(crate) const SEGMENTS: [(ClientSegment, f64); 4] = [
    (ClientSegment::Startup, 0.41),
    (ClientSegment::CrossBorderSaas, 0.29),
    (ClientSegment::BlockchainInfra, 0.18),
    (ClientSegment::Other, 0.12),
];

/// Chinese platforms: CNY contracts, China tax regimes.
pub(crate) fn is_cn(platform: &str) -> bool {
    matches!(platform, "codingmart" | "oschina_crowd" | "proginn")
}

/// Share of proposals that get an answer (interview or declined).
pub(crate) fn response_rate(platform: &str) -> f64 {
    match platform {
        "upwork" => 0.38,
        "toptal" => 0.62,
        "clouddevs" => 0.79,
        "codingmart" => 0.55,
        "proginn" => 0.50,
        "oschina_crowd" => 0.45,
        "fiverr" => 0.30,
        "direct" => 0.70,
        _ => 0.95, // sponsorship platforms: the sponsor came to us
    }
}

/// Share of answers that are interviews, and of interviews that become contracts.
pub(crate) fn interview_and_sign(income: IncomeType) -> (f64, f64) {
    match income {
        IncomeType::Sponsorship => (0.95, 0.90),
        _ => (0.60, 0.55),
    }
}

/// Share of leads we send a proposal to.
pub(crate) fn proposal_rate(income: IncomeType) -> f64 {
    match income {
        IncomeType::Sponsorship => 0.95,
        _ => 0.80,
    }
}

/// Time from proposal to the client's first answer (seed: 码市 <= 2 h, 程序员客栈 <= 12 h,
/// 开源众包 <= 24 h; the others hours to days).
pub(crate) fn first_response_ms(r: &mut Rng8, platform: &str) -> i64 {
    let hours = match platform {
        "codingmart" => dist::uniform(r, 0.15, 2.0),
        "proginn" => dist::uniform(r, 0.5, 12.0),
        "oschina_crowd" => dist::uniform(r, 1.0, 24.0),
        "upwork" => dist::log_uniform(r, 2.0, 72.0),
        "toptal" => dist::log_uniform(r, 4.0, 48.0),
        "clouddevs" => dist::log_uniform(r, 1.0, 24.0),
        "fiverr" => dist::log_uniform(r, 1.0, 48.0),
        "direct" => dist::log_uniform(r, 2.0, 120.0),
        _ => dist::log_uniform(r, 1.0, 24.0),
    };
    ((hours * HOUR_MS as f64) as i64).max(MINUTE_MS)
}

/// Expected share of leads that end in a contract, per category.
fn conversion(c: &Category) -> f64 {
    let (iv, sign) = interview_and_sign(c.income);
    let total: f64 = c.platforms.iter().map(|(_, w)| w).sum();
    let resp: f64 = c
        .platforms
        .iter()
        .map(|(p, w)| w * response_rate(p))
        .sum::<f64>()
        / total;
    proposal_rate(c.income) * resp * iv * sign
}

/// Lead weights per category such that *signed contracts* follow [`INCOME_MIX`]: a type that
/// converts less needs more leads.
pub(crate) fn lead_weights() -> Vec<(usize, f64)> {
    let mut out = Vec::new();
    for (income, share) in INCOME_MIX {
        let cats: Vec<usize> = (0..CATEGORIES.len())
            .filter(|&i| CATEGORIES[i].income == income)
            .collect();
        let wsum: f64 = cats.iter().map(|&i| CATEGORIES[i].weight).sum();
        let conv: f64 = cats
            .iter()
            .map(|&i| CATEGORIES[i].weight / wsum * conversion(&CATEGORIES[i]))
            .sum();
        for &i in &cats {
            out.push((i, share / conv * CATEGORIES[i].weight / wsum));
        }
    }
    out
}

/// A plausible client country for the segment (leads on Chinese platforms are from CN).
pub(crate) fn country(r: &mut Rng8, segment: ClientSegment, cn: bool) -> &'static str {
    if cn {
        return "CN";
    }
    let pool: &[&str] = match segment {
        ClientSegment::Startup => &["US", "US", "GB", "DE", "CA", "NL", "AU", "IN"],
        ClientSegment::CrossBorderSaas => &["SG", "HK", "US", "CN", "GB"],
        ClientSegment::BlockchainInfra => &["SG", "CH", "US", "AE", "DE"],
        ClientSegment::Other => &["US", "GB", "JP", "FR"],
    };
    dist::pick::<&str>(r, pool)
}

/// Churn reasons (DOMAIN.md: Go module incompatibility leads; 44% of freelancers hit it).
pub(crate) const CHURN_REASONS: [(&str, f64); 5] = [
    ("go_module_incompatibility", 0.44),
    ("budget_cut", 0.16),
    ("communication", 0.14),
    ("quality", 0.13),
    ("price", 0.13),
];

pub(crate) const CANCEL_REASONS: [(&str, f64); 3] = [
    ("budget_cut", 0.5),
    ("communication", 0.25),
    ("price", 0.25),
];
