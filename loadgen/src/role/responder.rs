//! A responder: a member of the reqrep queue group that echoes each request's payload to its
//! reply subject, so the requester gets its own send-time stamp back. Replies to everything
//! one read() brought are written together.

use std::sync::mpsc::Sender;

use super::{subscribe, unsubscribe, Ready, RoleContext, MEASURED_SID, STOP_POLL_INTERVAL};
use crate::proto::{push_pub, Conn, Frame, ProtoError};

pub struct ResponderReport {
    pub replied: u64,
    pub error: Option<String>,
}

/// Runs responder `index` until the coordinator says stop.
pub fn run(ctx: &RoleContext<'_>, index: usize, ready: Sender<Ready>) -> ResponderReport {
    let role = format!("loadgen-resp-{index}");
    let mut report = ResponderReport {
        replied: 0,
        error: None,
    };
    // Warmup requests go to the same subject; requesters tell them apart by number.
    let subscribed = |conn: &mut Conn| subscribe(conn, ctx.plan, false);
    let Some((mut conn, _)) = ctx.connect_and_wait(&role, &ready, subscribed) else {
        return report;
    };
    let result = serve(ctx, &mut conn, &mut report.replied)
        .and_then(|()| unsubscribe(&mut conn, &[MEASURED_SID]));
    report.error = result.err().map(|e| format!("{role}: {e}"));
    report
}

fn serve(ctx: &RoleContext<'_>, conn: &mut Conn, replied: &mut u64) -> Result<(), ProtoError> {
    conn.set_read_timeout(STOP_POLL_INTERVAL)?;
    while !ctx.control.should_stop() {
        if conn.fill()? {
            conn.drain(|frame, out| {
                if let Frame::Msg(request) = frame {
                    if let Some(reply) = request.reply {
                        push_pub(out, reply, None, request.payload);
                        *replied += 1;
                    }
                }
            })?;
        }
    }
    Ok(())
}
