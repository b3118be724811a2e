//! Reminders: a recipient's contact is e-mailed when a return is nearly due and when
//! it falls overdue, once per return per stage, ever — the reminder's row is written in the
//! transaction that sends it, so neither a restart nor a second instance repeats it. Without
//! SMTP, `GET /returns/due` lists what the reminders would say.

use std::collections::{HashMap, HashSet};

use actix_web::web;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::PgConnection;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{Message, SmtpTransport, Transport};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::store::{self, Owing, ReminderRow};
use crate::audit::{self, Action, Actor};
use crate::config::MailSettings;
use crate::domain::delivery::{ReminderStage, effective_plan, reminder_stage, schedule};
use crate::domain::ids::{AwardId, RecipientId};
use crate::domain::{AwardStatus, ReturnPeriod};
use crate::error::ApiError;
use crate::state::AppState;

/// A reminder a return is owed: to whom, and what it says.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Reminder {
    pub award_id: AwardId,
    #[schema(example = "CDRG-2020-21-0006")]
    pub reference: String,
    pub recipient_id: RecipientId,
    pub recipient: String,
    /// Where it goes; null when the recipient has no contact e-mail (nothing is sent).
    pub contact_email: Option<String>,
    pub period: ReturnPeriod,
    pub due_on: NaiveDate,
    pub stage: ReminderStage,
    pub subject: String,
    pub body: String,
    /// When it was e-mailed; null while it has not been.
    pub sent_at: Option<DateTime<Utc>>,
}

/// The reminders list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReminderList {
    pub as_of: NaiveDate,
    pub within_days: u32,
    pub items: Vec<Reminder>,
}

/// A sent reminder, as the trail records it.
#[derive(Debug, Clone, Serialize)]
struct SentReminder {
    id: Uuid,
    award_id: AwardId,
    period: ReturnPeriod,
    stage: ReminderStage,
    sent_to: String,
    subject: String,
    sent_at: DateTime<Utc>,
}

impl audit::Audited for SentReminder {
    const ENTITY_TYPE: &'static str = "reminder";
    fn entity_id(&self) -> Uuid {
        self.id
    }
    fn award_id(&self) -> Option<Uuid> {
        Some(self.award_id.into())
    }
}

/// What a reminder says.
fn wording(
    award: &store::OwingAward,
    period: ReturnPeriod,
    due_on: NaiveDate,
    stage: ReminderStage,
) -> (String, String) {
    let date = due_on.format("%-d %B %Y");
    let (subject, opening) = match stage {
        ReminderStage::DueSoon => (
            format!("Return due {date}: {} {period}", award.reference),
            format!("Your {period} return for {} is due on {date}.", award.title),
        ),
        ReminderStage::Overdue => (
            format!("Return overdue: {} {period}", award.reference),
            format!("Your {period} return for {} was due on {date} and has not been received.", award.title),
        ),
    };
    let body = format!(
        "Dear {recipient},\n\n{opening}\n\nAward: {reference}, {title}\nPeriod: {period}\nDue: {date}\n\n\
         Please submit it through the grants service. This is an automatic reminder, sent once.\n",
        recipient = award.recipient,
        reference = award.reference,
        title = award.title,
    );
    (subject, body)
}

/// Every reminder owed on `as_of` (returns not received, due within `days` or overdue by at
/// most `days`), of `scope`'s awards, with when each was sent.
pub fn owed(
    conn: &mut PgConnection,
    scope: Option<RecipientId>,
    as_of: NaiveDate,
    days: u32,
    default_days: u32,
) -> Result<Vec<Reminder>, ApiError> {
    let mut awards = store::owing_awards(conn, &Owing { statuses: &[AwardStatus::Approved], year: None, scope })?;
    awards.sort_by_key(|a| a.id);
    let ids: Vec<AwardId> = awards.iter().map(|a| a.id).collect();
    let mut received: HashSet<(AwardId, String)> = HashSet::new();
    for (award, period) in store::received_periods(conn, &ids)? {
        received.insert((award, period));
    }
    let sent: HashMap<(AwardId, ReturnPeriod, ReminderStage), DateTime<Utc>> =
        store::reminders_of(conn, &ids)?.into_iter().map(|r| ((r.award_id, r.period, r.stage), r.sent_at)).collect();
    let mut items = Vec::new();
    for award in &awards {
        let (frequency, allowed) = effective_plan(award.frequency, award.days_allowed, default_days);
        for due in schedule(frequency, award.financial_year, award.start_date, award.end_date, allowed) {
            if received.contains(&(award.id, due.period.to_string())) {
                continue;
            }
            let Some(stage) = reminder_stage(due.due_on, as_of, days) else { continue };
            let (subject, body) = wording(award, due.period, due.due_on, stage);
            items.push(Reminder {
                award_id: award.id,
                reference: award.reference.clone(),
                recipient_id: award.recipient_id,
                recipient: award.recipient.clone(),
                contact_email: award.contact_email.clone(),
                period: due.period,
                due_on: due.due_on,
                stage,
                subject,
                body,
                sent_at: sent.get(&(award.id, due.period, stage)).copied(),
            });
        }
    }
    Ok(items)
}

/// The actor the trail names for reminders.
fn scheduler() -> Actor {
    Actor { sub: "system:reminders".into(), name: Some("Reminder scheduler".into()) }
}

/// Sends every reminder owed today that has a contact and has not been sent, each in its own
/// transaction: claimed (or skipped, when already sent), e-mailed, recorded in the trail,
/// committed. A failed e-mail rolls its claim back, is logged, and is tried again on the next
/// round; the others are still sent. Each one sent is logged (award reference, period, stage:
/// never the address).
pub async fn send_owed(state: &AppState, mail: &MailSettings, as_of: NaiveDate) -> Result<(), ApiError> {
    let (days, default_days) = (state.reminder_days, state.return_due_days);
    let owed = state.db(move |conn| owed(conn, None, as_of, days, default_days)).await?;
    let from: Mailbox = mail.from.parse().map_err(|e| ApiError::Internal(format!("GRANTS_SMTP_FROM: {e}")))?;
    let mailer = SmtpTransport::from_url(&mail.smtp_url)
        .map_err(|e| ApiError::Internal(format!("GRANTS_SMTP_URL: {e}")))?
        .timeout(Some(std::time::Duration::from_secs(20)))
        .build();
    for reminder in owed.into_iter().filter(|r| r.sent_at.is_none()) {
        let Some(to) = reminder.contact_email.as_deref().and_then(|c| c.parse::<Mailbox>().ok()) else { continue };
        let (from, mailer) = (from.clone(), mailer.clone());
        let what = format!("the {} reminder for {} {}", reminder.stage, reminder.reference, reminder.period);
        let done = state
            .tx(move |conn| {
                let row = ReminderRow {
                    id: Uuid::now_v7(),
                    award_id: reminder.award_id,
                    period: reminder.period,
                    stage: reminder.stage,
                    sent_to: to.email.to_string(),
                    subject: reminder.subject.clone(),
                    sent_at: audit::now_micros(),
                };
                let Some(row) = store::claim_reminder(conn, &row)? else { return Ok(false) };
                let message = Message::builder()
                    .from(from)
                    .to(to)
                    .subject(reminder.subject)
                    .header(ContentType::TEXT_PLAIN)
                    .body(reminder.body)
                    .map_err(|e| ApiError::Internal(format!("reminder message: {e}")))?;
                mailer.send(&message).map_err(|e| ApiError::Internal(format!("reminder not sent: {e}")))?;
                let record = SentReminder {
                    id: row.id,
                    award_id: row.award_id,
                    period: row.period,
                    stage: row.stage,
                    sent_to: row.sent_to,
                    subject: row.subject,
                    sent_at: row.sent_at,
                };
                audit::record(conn, &scheduler(), Action::ReminderSent, &record)?;
                Ok(true)
            })
            .await;
        match done {
            Ok(true) => log::info!("sent {what}"),
            Ok(false) => {}
            Err(e) => log::warn!("{what} was not sent: {e}"),
        }
    }
    Ok(())
}

/// Sends the reminders owed every `mail.every`, for as long as the service runs.
pub async fn keep_sending(state: web::Data<AppState>, mail: MailSettings) {
    let mut tick = actix_web::rt::time::interval(mail.every);
    loop {
        tick.tick().await;
        if let Err(e) = send_owed(&state, &mail, Utc::now().date_naive()).await {
            log::warn!("return reminders: {e}");
        }
    }
}
