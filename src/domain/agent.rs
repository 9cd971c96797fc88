//! Agents, groups and who works which campaign (CONTRACT §9.2), in the reference's
//! shapes.

use serde::Serialize;

/// An agent, as `GET /v1/agent` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agent {
    pub id: String,
    pub name: String,
    pub stringee_user_id: String,
    pub manual_status: String,
    pub routing_type: i64,
    pub phone_number: String,
    /// 0 in a call (it holds a live claim), 1 available.
    pub system_status: i64,
    pub groups: Vec<GroupRef>,
    pub created: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRef {
    pub group_id: String,
}

/// An agent's fields as a request gives them; absent ones are `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentDraft {
    pub name: Option<String>,
    pub stringee_user_id: Option<String>,
    pub manual_status: Option<String>,
    pub routing_type: Option<i64>,
    pub phone_number: Option<String>,
}

impl AgentDraft {
    /// Checks the values present; the error names the field.
    pub fn check(mut self) -> Result<AgentDraft, String> {
        if let Some(name) = &self.name {
            self.name = Some(super::account::parse_name("name", name)?);
        }
        if let Some(user) = &self.stringee_user_id {
            let user = user.trim();
            if user.is_empty() || user.chars().count() > 128 {
                return Err("stringee_user_id must be 1 to 128 characters".into());
            }
            self.stringee_user_id = Some(user.to_string());
        }
        if let Some(status) = &self.manual_status {
            let status = status.trim().to_uppercase();
            if status.is_empty() || status.chars().count() > 64 {
                return Err("manual_status must be 1 to 64 characters".into());
            }
            self.manual_status = Some(status);
        }
        if let Some(r) = self.routing_type
            && !(1..=2).contains(&r)
        {
            return Err("routing_type must be 1 (app or SIP) or 2 (the agent's phone)".into());
        }
        if let Some(p) = &self.phone_number
            && p.chars().count() > 50
        {
            return Err("phone_number is longer than 50 characters".into());
        }
        Ok(self)
    }
}

/// A group of agents, as `GET /v1/group` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub number_of_agent: i64,
}

/// An agent's membership of a group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Membership {
    pub agent_id: String,
    pub group_id: String,
}

/// A campaign assignment, as `GET /v1/campagent` lists it: an agent (type 1) or a
/// group, whose members are read at hand-out time (type 2).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assignment {
    pub id: i64,
    pub account: String,
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    pub campaign_id: String,
    pub campaignname: String,
    pub group_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: i64,
}

/// An agent's quota in one campaign: `quota_type` 1 is calls a day; either at 0 is no quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quota {
    pub quota_type: i64,
    pub quota_call_out: i64,
}

impl Quota {
    /// The calls a day it allows, if it limits them.
    pub fn per_day(self) -> Option<i64> {
        (self.quota_type == 1 && self.quota_call_out > 0).then_some(self.quota_call_out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_are_checked() {
        let ok = AgentDraft { manual_status: Some(" available ".into()), ..Default::default() }.check().unwrap();
        assert_eq!(ok.manual_status.as_deref(), Some("AVAILABLE"));
        let bad = AgentDraft { routing_type: Some(3), ..Default::default() };
        assert!(bad.check().unwrap_err().starts_with("routing_type"));
    }

    #[test]
    fn quotas_limit_only_when_set() {
        assert_eq!(Quota { quota_type: 1, quota_call_out: 5 }.per_day(), Some(5));
        assert_eq!(Quota { quota_type: 0, quota_call_out: 5 }.per_day(), None);
        assert_eq!(Quota { quota_type: 1, quota_call_out: 0 }.per_day(), None);
    }
}
