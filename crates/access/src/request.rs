//! Authorization requests from outside JSON.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::error::GrantError;
use crate::grant::MAX_CATEGORIES;
use crate::json::{Fields, Json, Rule, expect_string, parse_object};

/// Most data subjects one authorization request may name.
pub const MAX_SUBJECTS_PER_REQUEST: usize = 10_000;
/// Largest authorization request body accepted, in bytes.
pub const MAX_AUTHZ_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// May `principal` read `categories` of `dataset` for `purpose`, touching
/// the data subjects `subjects`?
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuthzRequest {
    /// The acting principal's id.
    pub principal: String,
    /// The dataset.
    pub dataset: String,
    /// The data categories read (non-empty).
    pub categories: BTreeSet<String>,
    /// The purpose declared.
    pub purpose: String,
    /// The data subjects (pseudonyms or ids) this access touches; may be
    /// empty (an access that touches no subject's data); repeats count once.
    pub subjects: Vec<String>,
}

/// Parses and validates an authorization request:
/// `{"principal":"emp-1","dataset":"customers","categories":["name"],
/// "purpose":"customer_support","subjects":["c-1","c-2"]}`. Same rules and
/// path-reporting as [`parse_grant_request`](crate::parse_grant_request);
/// at most [`MAX_SUBJECTS_PER_REQUEST`] subjects of 1–256 bytes each.
pub fn parse_authz_request(json: &[u8]) -> Result<AuthzRequest, GrantError> {
    let fields = parse_object(json, MAX_AUTHZ_REQUEST_BYTES)?;
    let mut problems = Vec::new();
    let mut f = Fields::new("$", fields, &mut problems);
    let principal = f.string("principal", Rule::Id);
    let dataset = f.string("dataset", Rule::Name);
    let categories = f.string_set("categories", Rule::Category, MAX_CATEGORIES);
    let purpose = f.string("purpose", Rule::Name);
    let subjects = subjects(&mut f);
    f.finish();
    match (principal, dataset, categories, purpose, subjects) {
        (Some(principal), Some(dataset), Some(categories), Some(purpose), Some(subjects))
            if problems.is_empty() =>
        {
            Ok(AuthzRequest {
                principal,
                dataset,
                categories,
                purpose,
                subjects,
            })
        }
        _ => Err(GrantError { problems }),
    }
}

fn subjects(f: &mut Fields<'_>) -> Option<Vec<String>> {
    let v = f.take("subjects", true)?;
    let path = f.path_of("subjects");
    let Json::Array(items) = v else {
        f.problem(
            path,
            format!("expected an array of strings, found {}", v.kind()),
        );
        return None;
    };
    if items.len() > MAX_SUBJECTS_PER_REQUEST {
        f.problem(path, format!("at most {MAX_SUBJECTS_PER_REQUEST} subjects"));
        return None;
    }
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.into_iter().enumerate() {
        let p = format!("{path}[{i}]");
        match expect_string(item, &p, f.problems) {
            Some(s) if Rule::Subject.check(&s, &p, f.problems) => out.push(s),
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

impl AuthzRequest {
    /// Checks the shapes [`parse_authz_request`] enforces, for requests
    /// built in code: the engine denies a request that fails.
    pub fn check_shape(&self) -> Result<(), String> {
        let mut p = Vec::new();
        Rule::Id.check(&self.principal, "principal", &mut p);
        Rule::Name.check(&self.dataset, "dataset", &mut p);
        Rule::Name.check(&self.purpose, "purpose", &mut p);
        if self.categories.is_empty() || self.categories.len() > MAX_CATEGORIES {
            p.push(crate::error::Problem {
                path: "categories".into(),
                reason: format!("1 to {MAX_CATEGORIES} categories"),
            });
        }
        for c in &self.categories {
            Rule::Category.check(c, "categories", &mut p);
        }
        if self.subjects.len() > MAX_SUBJECTS_PER_REQUEST {
            p.push(crate::error::Problem {
                path: "subjects".into(),
                reason: "too many".into(),
            });
        }
        for s in &self.subjects {
            Rule::Subject.check(s, "subjects", &mut p);
        }
        match p.first() {
            None => Ok(()),
            Some(first) => Err(format!("{}: {}", first.path, first.reason)),
        }
    }
}
