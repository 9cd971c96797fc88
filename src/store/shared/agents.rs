//! Agents, groups, their members, campaign assignments, quotas and what an agent
//! performs (CONTRACT §9.2).

use super::db::{Db, Row, Val};
use crate::domain::agent::{Agent, AgentDraft, Assignment, Group, GroupRef, Membership, Quota};
use crate::domain::campaign::Campaign;
use crate::domain::ids::IdKind;
use crate::domain::now_secs;
use crate::domain::page::{Page, Paged};
use crate::store::{StoreError, StoreResult};

/// The columns of a campaign row, in the order [`campaign`] reads them.
pub const CAMPAIGN_COLUMNS: &str = "id, name, desc1, portal_id, start_time, end_time, max_call_retry, \
                                    time_between_two_call, number, created, updated, status, calling";

/// How many columns [`CAMPAIGN_COLUMNS`] has.
const CAMPAIGN_WIDTH: usize = 13;

/// [`CAMPAIGN_COLUMNS`] of the campaigns table named `alias`.
pub fn campaign_columns(alias: &str) -> String {
    CAMPAIGN_COLUMNS.split(", ").map(|c| format!("{alias}.{}", c.trim())).collect::<Vec<_>>().join(", ")
}

/// A campaign read with [`CAMPAIGN_COLUMNS`].
pub fn campaign(r: &Row) -> Campaign {
    Campaign {
        id: r.text(0),
        name: r.text(1),
        desc1: r.text(2),
        portal: r.text(3),
        start_time: r.int(4),
        end_time: r.int(5),
        max_call_retry: r.int(6),
        time_between_two_call: r.int(7),
        number: r.text(8),
        created: r.int(9),
        updated: r.int(10),
        status: crate::store::plan::shown_status(r.int(11), r.int(5)),
        calling: crate::store::plan::calling_of(&r.text(12)),
    }
}

/// The account's campaign, if it has one readers may see.
pub async fn find_campaign(db: &impl Db, account: &str, id: &str) -> StoreResult<Option<Campaign>> {
    let sql = format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE account_id = ? AND id = ? AND hidden = 0");
    Ok(db.row(&sql, &[account.into(), id.into()]).await?.as_ref().map(campaign))
}

/// As [`require_campaign`], with the bound below which its customers are not an
/// import's in progress.
pub async fn require_campaign_below(db: &impl Db, account: &str, id: &str) -> StoreResult<(Campaign, i64)> {
    let sql =
        format!("SELECT {CAMPAIGN_COLUMNS}, staged_from FROM campaigns WHERE account_id = ? AND id = ? AND hidden = 0");
    let row = db.row(&sql, &[account.into(), id.into()]).await?;
    let row = row.ok_or_else(|| StoreError::CampaignNotFound(id.to_string()))?;
    Ok((campaign(&row), row.opt_int(13).unwrap_or(i64::MAX)))
}

/// As [`find_campaign`], r=3 when there is none.
pub async fn require_campaign(db: &impl Db, account: &str, id: &str) -> StoreResult<Campaign> {
    find_campaign(db, account, id).await?.ok_or_else(|| StoreError::CampaignNotFound(id.to_string()))
}

const AGENT_COLUMNS: &str = "id, name, stringee_user_id, manual_status, routing_type, phone_number, created";

async fn agent_rows(db: &impl Db, account: &str, rows: Vec<Row>) -> StoreResult<Vec<Agent>> {
    let mut agents = Vec::with_capacity(rows.len());
    for r in rows {
        let id = r.text(0);
        let groups = db
            .rows(
                "SELECT group_id FROM group_members WHERE account_id = ? AND agent_id = ? ORDER BY group_id",
                &[account.into(), id.clone().into()],
            )
            .await?
            .iter()
            .map(|g| GroupRef { group_id: g.text(0) })
            .collect();
        let busy = db
            .row(
                "SELECT 1 FROM claims WHERE account_id = ? AND agent_id = ? AND state = 0 AND lease_expires_at > ?",
                &[account.into(), id.clone().into(), now_secs().into()],
            )
            .await?
            .is_some();
        agents.push(Agent {
            id,
            name: r.text(1),
            stringee_user_id: r.text(2),
            manual_status: r.text(3),
            routing_type: r.int(4),
            phone_number: r.text(5),
            system_status: if busy { 0 } else { 1 },
            groups,
            created: r.int(6),
        });
    }
    Ok(agents)
}

/// r=7 when another agent of the account has `user`. The name stays locked until the
/// transaction ends: two requests giving one name at once take turns (on PostgreSQL,
/// where they would otherwise both find it free), so the second is told it is taken.
async fn user_taken(db: &impl Db, account: &str, user: &str, other_than: Option<&str>) -> StoreResult<()> {
    db.lock(&format!("agent-user/{account}/{user}"), true).await?;
    let found = db
        .row("SELECT id FROM agents WHERE account_id = ? AND stringee_user_id = ?", &[account.into(), user.into()])
        .await?;
    match found {
        Some(r) if Some(r.text(0).as_str()) != other_than => {
            Err(StoreError::Conflict(format!("an agent with stringee_user_id '{user}' already exists")))
        }
        _ => Ok(()),
    }
}

/// Inserts a row under a fresh random id of `kind`, bound first; the statement
/// must end in `ON CONFLICT DO NOTHING`, so a collision draws again.
pub async fn insert_fresh(db: &impl Db, kind: IdKind, sql: &str, rest: Vec<Val>) -> StoreResult<String> {
    for _ in 0..8 {
        let id = kind.generate();
        let mut args = vec![Val::Text(id.clone())];
        args.extend(rest.iter().cloned());
        if db.exec(sql, &args).await? == 1 {
            return Ok(id);
        }
    }
    Err(StoreError::broken(format!("could not draw a free {kind:?} id")))
}

pub async fn create_agent(db: &impl Db, account: &str, draft: AgentDraft) -> StoreResult<Agent> {
    let user = draft.stringee_user_id.clone().unwrap_or_default();
    user_taken(db, account, &user, None).await?;
    let id = insert_fresh(
        db,
        IdKind::Agent,
        "INSERT INTO agents (id, account_id, name, stringee_user_id, manual_status, routing_type, phone_number, created) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        vec![
            account.into(),
            draft.name.unwrap_or_default().into(),
            user.into(),
            draft.manual_status.unwrap_or_else(|| "AVAILABLE".into()).into(),
            draft.routing_type.unwrap_or(1).into(),
            draft.phone_number.unwrap_or_default().into(),
            now_secs().into(),
        ],
    )
    .await?;
    agent(db, account, &id).await?.ok_or_else(|| StoreError::broken("a new agent went missing"))
}

pub async fn agents(db: &impl Db, account: &str, user: Option<&str>, page: Page) -> StoreResult<Paged<Agent>> {
    let (filter, mut args): (&str, Vec<Val>) = match user {
        Some(u) => (" AND stringee_user_id = ?", vec![account.into(), u.into()]),
        None => ("", vec![account.into()]),
    };
    let total = db.row(&format!("SELECT count(*) FROM agents WHERE account_id = ?{filter}"), &args).await?;
    args.extend([page.limit.into(), page.offset().into()]);
    let rows = db
        .rows(
            &format!("SELECT {AGENT_COLUMNS} FROM agents WHERE account_id = ?{filter} ORDER BY seq LIMIT ? OFFSET ?"),
            &args,
        )
        .await?;
    Ok(Paged { rows: agent_rows(db, account, rows).await?, total: total.map_or(0, |r| r.int(0)) })
}

pub async fn agent(db: &impl Db, account: &str, id: &str) -> StoreResult<Option<Agent>> {
    let rows = db
        .rows(
            &format!("SELECT {AGENT_COLUMNS} FROM agents WHERE account_id = ? AND id = ?"),
            &[account.into(), id.into()],
        )
        .await?;
    Ok(agent_rows(db, account, rows).await?.into_iter().next())
}

/// The agent a `stringee_user_id` names: (id, name); r=4 when there is none.
pub async fn agent_by_user(db: &impl Db, account: &str, user: &str) -> StoreResult<(String, String)> {
    db.row("SELECT id, name FROM agents WHERE account_id = ? AND stringee_user_id = ?", &[account.into(), user.into()])
        .await?
        .map(|r| (r.text(0), r.text(1)))
        .ok_or_else(|| StoreError::NotFound(format!("agent with stringee_user_id '{user}' not found")))
}

pub async fn update_agent(db: &impl Db, account: &str, id: &str, draft: AgentDraft) -> StoreResult<Option<Agent>> {
    let Some(before) = agent(db, account, id).await? else {
        return Ok(None);
    };
    if let Some(user) = &draft.stringee_user_id
        && *user != before.stringee_user_id
    {
        user_taken(db, account, user, Some(id)).await?;
        // The agent's own callbacks follow it to its new name: no other agent that
        // later takes the old one inherits them.
        pass_callbacks(db, account, &before.stringee_user_id, Some(user)).await?;
    }
    let sets: [(&str, Option<Val>); 5] = [
        ("name", draft.name.map(Val::from)),
        ("stringee_user_id", draft.stringee_user_id.map(Val::from)),
        ("manual_status", draft.manual_status.map(Val::from)),
        ("routing_type", draft.routing_type.map(Val::from)),
        ("phone_number", draft.phone_number.map(Val::from)),
    ];
    for (column, value) in sets {
        if let Some(value) = value {
            db.exec(
                &format!("UPDATE agents SET {column} = ? WHERE account_id = ? AND id = ?"),
                &[value, account.into(), id.into()],
            )
            .await?;
        }
    }
    agent(db, account, id).await
}

/// Deletes the agent with its memberships, assignments and quotas.
pub async fn delete_agent(db: &impl Db, account: &str, id: &str) -> StoreResult<bool> {
    // A deleted agent's own callbacks become anyone's: the appointment is kept, and
    // an agent later created with the same stringee_user_id does not inherit it.
    if let Some(gone) = agent(db, account, id).await? {
        pass_callbacks(db, account, &gone.stringee_user_id, None).await?;
    }
    let args = [Val::from(account), Val::from(id)];
    for sql in [
        "DELETE FROM group_members WHERE account_id = ? AND agent_id = ?",
        "DELETE FROM campaign_agents WHERE account_id = ? AND agent_id = ?",
        "DELETE FROM agent_quotas WHERE account_id = ? AND agent_id = ?",
    ] {
        db.exec(sql, &args).await?;
    }
    Ok(db.exec("DELETE FROM agents WHERE account_id = ? AND id = ?", &args).await? > 0)
}

/// Moves the `USERONLY` callbacks of the agent known as `from` to `to`, or makes
/// them anyone's (`None`): in every campaign of the account, whatever the
/// customer's status now (a stopped or claimed callback keeps its owner).
async fn pass_callbacks(db: &impl Db, account: &str, from: &str, to: Option<&str>) -> StoreResult<()> {
    db.exec(
        "UPDATE customers SET stringee_user_id_callback = ? WHERE account_id = ? AND stringee_user_id_callback = ?",
        &[to.map_or(Val::NullText, Val::from), account.into(), from.into()],
    )
    .await?;
    Ok(())
}

async fn group_rows(db: &impl Db, account: &str, rows: Vec<Row>) -> StoreResult<Vec<Group>> {
    let mut groups = Vec::with_capacity(rows.len());
    for r in rows {
        let id = r.text(0);
        let members = db
            .row(
                "SELECT count(*) FROM group_members WHERE account_id = ? AND group_id = ?",
                &[account.into(), id.clone().into()],
            )
            .await?
            .map_or(0, |r| r.int(0));
        groups.push(Group { id, name: r.text(1), number_of_agent: members });
    }
    Ok(groups)
}

pub async fn create_group(db: &impl Db, account: &str, name: &str) -> StoreResult<Group> {
    let id = insert_fresh(
        db,
        IdKind::Group,
        "INSERT INTO agent_groups (id, account_id, name, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        vec![account.into(), name.into(), now_secs().into()],
    )
    .await?;
    Ok(Group { id, name: name.to_string(), number_of_agent: 0 })
}

pub async fn groups(db: &impl Db, account: &str, page: Page) -> StoreResult<Paged<Group>> {
    let total = db.row("SELECT count(*) FROM agent_groups WHERE account_id = ?", &[account.into()]).await?;
    let rows = db
        .rows(
            "SELECT id, name FROM agent_groups WHERE account_id = ? ORDER BY seq LIMIT ? OFFSET ?",
            &[account.into(), page.limit.into(), page.offset().into()],
        )
        .await?;
    Ok(Paged { rows: group_rows(db, account, rows).await?, total: total.map_or(0, |r| r.int(0)) })
}

pub async fn group(db: &impl Db, account: &str, id: &str) -> StoreResult<Option<Group>> {
    let rows = db
        .rows("SELECT id, name FROM agent_groups WHERE account_id = ? AND id = ?", &[account.into(), id.into()])
        .await?;
    Ok(group_rows(db, account, rows).await?.into_iter().next())
}

pub async fn rename_group(db: &impl Db, account: &str, id: &str, name: &str) -> StoreResult<Option<Group>> {
    db.exec(
        "UPDATE agent_groups SET name = ? WHERE account_id = ? AND id = ?",
        &[name.into(), account.into(), id.into()],
    )
    .await?;
    group(db, account, id).await
}

/// Deletes the group with its memberships and assignments.
pub async fn delete_group(db: &impl Db, account: &str, id: &str) -> StoreResult<bool> {
    let args = [Val::from(account), Val::from(id)];
    db.exec("DELETE FROM group_members WHERE account_id = ? AND group_id = ?", &args).await?;
    db.exec("DELETE FROM campaign_agents WHERE account_id = ? AND group_id = ?", &args).await?;
    Ok(db.exec("DELETE FROM agent_groups WHERE account_id = ? AND id = ?", &args).await? > 0)
}

async fn require_agent(db: &impl Db, account: &str, id: &str) -> StoreResult<String> {
    db.row("SELECT name FROM agents WHERE account_id = ? AND id = ?", &[account.into(), id.into()])
        .await?
        .map(|r| r.text(0))
        .ok_or_else(|| StoreError::NotFound(format!("agent '{id}' not found")))
}

async fn require_group(db: &impl Db, account: &str, id: &str) -> StoreResult<()> {
    db.row("SELECT 1 FROM agent_groups WHERE account_id = ? AND id = ?", &[account.into(), id.into()])
        .await?
        .map(drop)
        .ok_or_else(|| StoreError::NotFound(format!("group '{id}' not found")))
}

/// Adds an agent to a group; r=7 when it is a member already.
pub async fn add_member(db: &impl Db, account: &str, agent: &str, group: &str) -> StoreResult<Membership> {
    require_agent(db, account, agent).await?;
    require_group(db, account, group).await?;
    let added = db
        .exec(
            "INSERT INTO group_members (account_id, group_id, agent_id, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            &[account.into(), group.into(), agent.into(), now_secs().into()],
        )
        .await?;
    if added == 0 {
        return Err(StoreError::Conflict(format!("agent '{agent}' is in group '{group}' already")));
    }
    Ok(Membership { agent_id: agent.to_string(), group_id: group.to_string() })
}

pub async fn members(db: &impl Db, account: &str, group: &str, page: Page) -> StoreResult<Paged<Membership>> {
    require_group(db, account, group).await?;
    let args = [Val::from(account), Val::from(group)];
    let total = db.row("SELECT count(*) FROM group_members WHERE account_id = ? AND group_id = ?", &args).await?;
    let rows = db
        .rows(
            "SELECT agent_id, group_id FROM group_members WHERE account_id = ? AND group_id = ? \
             ORDER BY created, agent_id LIMIT ? OFFSET ?",
            &[account.into(), group.into(), page.limit.into(), page.offset().into()],
        )
        .await?;
    let rows = rows.iter().map(|r| Membership { agent_id: r.text(0), group_id: r.text(1) }).collect();
    Ok(Paged { rows, total: total.map_or(0, |r| r.int(0)) })
}

/// Takes an agent out of a group; r=4 when it was not in it.
pub async fn remove_member(db: &impl Db, account: &str, agent: &str, group: &str) -> StoreResult<()> {
    let gone = db
        .exec(
            "DELETE FROM group_members WHERE account_id = ? AND group_id = ? AND agent_id = ?",
            &[account.into(), group.into(), agent.into()],
        )
        .await?;
    if gone == 0 {
        // Say which is unknown before saying they were never together.
        require_agent(db, account, agent).await?;
        require_group(db, account, group).await?;
        return Err(StoreError::NotFound(format!("agent '{agent}' is not in group '{group}'")));
    }
    Ok(())
}

const ASSIGNMENT_COLUMNS: &str = "a.id, a.account_id, a.agent_id, g.name, a.campaign_id, k.name, a.group_id, a.type";

fn assignment(r: &Row) -> Assignment {
    Assignment {
        id: r.int(0),
        account: r.text(1),
        agent_id: r.opt_text(2),
        agent_name: r.opt_text(3),
        campaign_id: r.text(4),
        campaignname: r.text(5),
        group_id: r.opt_text(6),
        kind: r.int(7),
    }
}

const ASSIGNMENT_FROM: &str = "FROM campaign_agents a \
     JOIN campaigns k ON k.account_id = a.account_id AND k.id = a.campaign_id \
     LEFT JOIN agents g ON g.account_id = a.account_id AND g.id = a.agent_id";

/// The condition that an agent works a campaign: assigned itself, or through a
/// group it is in now. Each argument is an SQL expression (a column, or `?`, bound
/// in the order account, campaign, agent, campaign, account, agent). Two lookups,
/// each through its own index (`campaign_agents_agent`, then `group_members_agent`
/// and `campaign_agents_group`): the one condition `a.agent_id = … OR a.group_id IN
/// (…)` was read by scanning every assignment of the account, at each hand-out.
pub fn works_campaign(account: &str, campaign: &str, agent: &str) -> String {
    format!(
        "(EXISTS (SELECT 1 FROM campaign_agents a WHERE a.account_id = {account} AND a.campaign_id = {campaign} \
         AND a.type = 1 AND a.agent_id = {agent}) OR EXISTS (SELECT 1 FROM group_members m JOIN campaign_agents a \
         ON a.account_id = m.account_id AND a.campaign_id = {campaign} AND a.type = 2 AND a.group_id = m.group_id \
         WHERE m.account_id = {account} AND m.agent_id = {agent}))"
    )
}

/// Assigns agents and groups to a campaign; those assigned already are skipped.
/// Returns the assignments made. r=3 for the campaign, r=4 naming an unknown agent
/// or group, before anything is written.
pub async fn assign(
    db: &impl Db,
    account: &str,
    campaign: &str,
    agents: &[String],
    groups: &[String],
) -> StoreResult<Vec<Assignment>> {
    require_campaign(db, account, campaign).await?;
    for a in agents {
        require_agent(db, account, a).await?;
    }
    for g in groups {
        require_group(db, account, g).await?;
    }
    let now = now_secs();
    let mut made = Vec::new();
    let wanted = agents.iter().map(|a| (1, Some(a), None)).chain(groups.iter().map(|g| (2, None, Some(g))));
    for (kind, agent, group) in wanted {
        let id = db
            .row(
                "INSERT INTO campaign_agents (account_id, campaign_id, agent_id, group_id, type, created) \
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
                &[
                    account.into(),
                    campaign.into(),
                    agent.cloned().into(),
                    group.cloned().into(),
                    Val::Int(kind),
                    now.into(),
                ],
            )
            .await?;
        if let Some(id) = id {
            let sql = format!("SELECT {ASSIGNMENT_COLUMNS} {ASSIGNMENT_FROM} WHERE a.account_id = ? AND a.id = ?");
            if let Some(r) = db.row(&sql, &[account.into(), id.int(0).into()]).await? {
                made.push(assignment(&r));
            }
        }
    }
    Ok(made)
}

/// Makes the campaign's assignments of each kind given exactly the ones listed:
/// the new ones are made (r=4 naming an unknown agent or group, before anything is
/// written, as [`assign`] checks), then those not listed go. Inside the caller's
/// transaction.
pub async fn replace_team(
    db: &impl Db,
    account: &str,
    campaign: &str,
    agents: Option<Vec<String>>,
    groups: Option<Vec<String>>,
) -> StoreResult<()> {
    if agents.is_none() && groups.is_none() {
        return Ok(());
    }
    let none = Vec::new();
    assign(db, account, campaign, agents.as_ref().unwrap_or(&none), groups.as_ref().unwrap_or(&none)).await?;
    for (kind, column, listed) in [(1, "agent_id", &agents), (2, "group_id", &groups)] {
        let Some(listed) = listed else { continue };
        let current = db
            .rows(
                &format!(
                    "SELECT id, {column} FROM campaign_agents WHERE account_id = ? AND campaign_id = ? AND type = ?"
                ),
                &[account.into(), campaign.into(), Val::Int(kind)],
            )
            .await?;
        for r in &current {
            if !listed.iter().any(|x| Some(x.as_str()) == r.opt_text(1).as_deref()) {
                unassign(db, account, r.int(0)).await?;
            }
        }
    }
    Ok(())
}

pub async fn assignments(
    db: &impl Db,
    account: &str,
    campaign: Option<&str>,
    agent: Option<&str>,
    page: Page,
) -> StoreResult<Paged<Assignment>> {
    // A campaign or agent named must be the account's (r=3, then r=4), as every
    // other list filtered by one answers.
    if let Some(c) = campaign {
        require_campaign(db, account, c).await?;
    }
    if let Some(a) = agent {
        require_agent(db, account, a).await?;
    }
    let mut filter = String::new();
    let mut args: Vec<Val> = vec![account.into()];
    if let Some(c) = campaign {
        filter.push_str(" AND a.campaign_id = ?");
        args.push(c.into());
    }
    if let Some(a) = agent {
        // An agent's own assignments and its groups'.
        filter.push_str(
            " AND (a.agent_id = ? OR a.group_id IN (SELECT m.group_id FROM group_members m \
             WHERE m.account_id = a.account_id AND m.agent_id = ?))",
        );
        args.extend([a.into(), a.into()]);
    }
    let total = db.row(&format!("SELECT count(*) {ASSIGNMENT_FROM} WHERE a.account_id = ?{filter}"), &args).await?;
    args.extend([page.limit.into(), page.offset().into()]);
    let rows = db
        .rows(
            &format!(
                "SELECT {ASSIGNMENT_COLUMNS} {ASSIGNMENT_FROM} WHERE a.account_id = ?{filter} ORDER BY a.id LIMIT ? OFFSET ?"
            ),
            &args,
        )
        .await?;
    Ok(Paged { rows: rows.iter().map(assignment).collect(), total: total.map_or(0, |r| r.int(0)) })
}

pub async fn unassign(db: &impl Db, account: &str, id: i64) -> StoreResult<bool> {
    Ok(db.exec("DELETE FROM campaign_agents WHERE account_id = ? AND id = ?", &[account.into(), id.into()]).await? > 0)
}

/// Whether the agent works the campaign: assigned itself, or through a group it is
/// in now.
pub async fn is_assigned(db: &impl Db, account: &str, campaign: &str, agent: &str) -> StoreResult<bool> {
    Ok(db
        .row(
            &format!("SELECT 1 WHERE {}", works_campaign("?", "?", "?")),
            &[account.into(), campaign.into(), agent.into(), campaign.into(), account.into(), agent.into()],
        )
        .await?
        .is_some())
}

/// The agent a request names by `stringee_user_id`, which must work the campaign:
/// (id, name); r=4 for an unknown agent or one not assigned.
pub async fn assigned_agent(db: &impl Db, account: &str, campaign: &str, user: &str) -> StoreResult<(String, String)> {
    let (id, name) = agent_by_user(db, account, user).await?;
    if !is_assigned(db, account, campaign, &id).await? {
        return Err(StoreError::NotFound(format!("agent '{user}' is not assigned to campaign {campaign}")));
    }
    Ok((id, name))
}

/// What a hand-out starts from, read at once: the campaign (r=3 if the account has
/// none) and the bound below which its customers are not an import's in progress;
/// the agent it names by `stringee_user_id`, which must work the campaign (r=4 for
/// an unknown agent or one not assigned), and its quota there (its own, else the
/// campaign's); and whether any callback of the campaign is due at `now`.
pub struct HandOut {
    pub campaign: Campaign,
    pub below: i64,
    pub agent: String,
    pub quota: Quota,
    pub callbacks_due: bool,
    /// The database's count of writes that queued customers (PostgreSQL; 0 on SQLite).
    pub requeues: i64,
}

pub async fn hand_out(db: &impl Db, account: &str, campaign: &str, user: &str, now: i64) -> StoreResult<HandOut> {
    // PostgreSQL's hand-outs read the count of writes that queued customers
    // (queue_head); SQLite's, one server's, have no use for it.
    let requeues =
        if db.postgres() { "(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM requeues)" } else { "0" };
    let sql = format!(
        "SELECT {}, k.staged_from, g.id, CASE WHEN {} THEN 1 END, q.quota_type, q.quota_call_out, \
         (SELECT 1 FROM customers c WHERE c.account_id = k.account_id AND c.campaign_id = k.id AND c.due = 2 \
         AND c.wake_at <= ? LIMIT 1), {requeues} \
         FROM campaigns k LEFT JOIN agents g ON g.account_id = k.account_id AND g.stringee_user_id = ? \
         LEFT JOIN agent_quotas q ON q.account_id = k.account_id AND q.campaign_id = k.id AND q.agent_id = g.id \
         WHERE k.account_id = ? AND k.id = ? AND k.hidden = 0",
        campaign_columns("k"),
        works_campaign("k.account_id", "k.id", "g.id")
    );
    let row = db
        .row(&sql, &[now.into(), user.into(), account.into(), campaign.into()])
        .await?
        .ok_or_else(|| StoreError::CampaignNotFound(campaign.to_string()))?;
    let found = self::campaign(&row);
    let at = CAMPAIGN_WIDTH;
    let Some(agent) = row.opt_text(at + 1) else {
        return Err(StoreError::NotFound(format!("agent with stringee_user_id '{user}' not found")));
    };
    if row.opt_int(at + 2).is_none() {
        return Err(StoreError::NotFound(format!("agent '{user}' is not assigned to campaign {campaign}")));
    }
    let quota = match (row.opt_int(at + 3), row.opt_int(at + 4)) {
        (Some(quota_type), Some(quota_call_out)) => Quota { quota_type, quota_call_out },
        _ => Quota { quota_type: found.calling.quota_type, quota_call_out: found.calling.quota_call_out },
    };
    Ok(HandOut {
        below: row.opt_int(at).unwrap_or(i64::MAX),
        agent,
        quota,
        callbacks_due: row.opt_int(at + 5).is_some(),
        requeues: row.int(at + 6),
        campaign: found,
    })
}

/// Records the campaign an agent works now (setperform).
pub async fn set_perform(db: &impl Db, account: &str, campaign: &str, user: &str) -> StoreResult<()> {
    require_campaign(db, account, campaign).await?;
    let (id, _) = assigned_agent(db, account, campaign, user).await?;
    db.exec(
        "UPDATE agents SET performing = ? WHERE account_id = ? AND id = ?",
        &[campaign.into(), account.into(), id.into()],
    )
    .await?;
    Ok(())
}

/// Clears the campaign an agent works (removeperform).
pub async fn remove_perform(db: &impl Db, account: &str, user: &str) -> StoreResult<()> {
    let (id, _) = agent_by_user(db, account, user).await?;
    db.exec("UPDATE agents SET performing = NULL WHERE account_id = ? AND id = ?", &[account.into(), id.into()])
        .await?;
    Ok(())
}

/// Sets an agent's quota in a campaign.
pub async fn set_quota(db: &impl Db, account: &str, campaign: &str, agent: &str, quota: Quota) -> StoreResult<()> {
    require_campaign(db, account, campaign).await?;
    require_agent(db, account, agent).await?;
    if !is_assigned(db, account, campaign, agent).await? {
        return Err(StoreError::NotFound(format!("agent '{agent}' is not assigned to campaign {campaign}")));
    }
    db.exec(
        "INSERT INTO agent_quotas (account_id, campaign_id, agent_id, quota_type, quota_call_out) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (account_id, campaign_id, agent_id) DO UPDATE SET quota_type = excluded.quota_type, \
         quota_call_out = excluded.quota_call_out",
        &[account.into(), campaign.into(), agent.into(), quota.quota_type.into(), quota.quota_call_out.into()],
    )
    .await?;
    Ok(())
}

/// The agent's quota in the campaign: its own, else the campaign's.
pub async fn quota_of(db: &impl Db, account: &str, campaign: &Campaign, agent: &str) -> StoreResult<Quota> {
    let own = db
        .row(
            "SELECT quota_type, quota_call_out FROM agent_quotas WHERE account_id = ? AND campaign_id = ? AND agent_id = ?",
            &[account.into(), campaign.id.as_str().into(), agent.into()],
        )
        .await?;
    Ok(match own {
        Some(r) => Quota { quota_type: r.int(0), quota_call_out: r.int(1) },
        None => Quota { quota_type: campaign.calling.quota_type, quota_call_out: campaign.calling.quota_call_out },
    })
}

/// The running campaigns an agent works, the one it performs first; named like
/// `name` when given.
pub async fn running_campaigns(
    db: &impl Db,
    account: &str,
    user: &str,
    name: Option<&str>,
) -> StoreResult<Vec<Campaign>> {
    let (id, _) = agent_by_user(db, account, user).await?;
    let performing = db
        .row("SELECT performing FROM agents WHERE account_id = ? AND id = ?", &[account.into(), id.clone().into()])
        .await?
        .and_then(|r| r.opt_text(0));
    let rows = db
        .rows(
            &format!(
                "SELECT {CAMPAIGN_COLUMNS} FROM campaigns k WHERE k.account_id = ? AND k.hidden = 0 AND k.status = 2 \
                 AND {} ORDER BY k.seq",
                works_campaign("k.account_id", "k.id", "?")
            ),
            &[account.into(), id.clone().into(), id.into()],
        )
        .await?;
    let now_ms = crate::domain::now_ms();
    let needle = name.map(|n| crate::domain::text::fold(n.trim())).filter(|n| !n.is_empty());
    let mut found: Vec<Campaign> = rows
        .iter()
        .map(campaign)
        .filter(|c| c.status_at(now_ms) == crate::domain::campaign::status::RUNNING)
        .filter(|c| needle.as_ref().is_none_or(|n| crate::domain::text::fold(&c.name).contains(n.as_str())))
        .collect();
    found.sort_by_key(|c| Some(&c.id) != performing.as_ref());
    Ok(found)
}
