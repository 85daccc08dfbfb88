/* smtp_session_private: what the SMTP session files share: the session
 * state and struct, limits, and the helpers every command handler uses.
 * smtp_session.c owns the session life cycle, input loop and command
 * table; smtp_cmd_tx.c the mail transaction (MAIL, RCPT, DATA, BDAT,
 * queueing); smtp_cmd_auth.c AUTH and the sender and relay policy. */
#ifndef MOAT_SMTP_SESSION_PRIVATE_H
#define MOAT_SMTP_SESSION_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "buf.h"
#include "conn.h"
#include "queue.h"
#include "auth_run.h"

struct spf_check;
struct dns_query;
struct screen_dnsbl;
struct clamd_scan;
struct dkim_verify;
struct dmarc_check;
struct dmarc_result;
struct arc_verify;
struct arc_result;
struct content_info;
#include "sasl.h"
#include "smtp_data.h"
#include "smtp_parser.h"
#include "smtp_session.h"
#include "store.h"
#include "trace.h"

#define SMTP_IN_MAX (1024 * 1024)	/* buffered input, incl pipelining */
#define SMTP_HELO_MAX 255
#define SMTP_HEADER_ROOM 4096		/* Received: header on top of size */
#define SMTP_REPLY_MAX 512		/* RFC 5321 4.5.3.1.5 */
#define SMTP_DATA_PROGRESS 4096		/* octets per idle period in DATA */
#define SMTP_REJECT_LOG_MAX 32		/* rejected-log rows per session */

enum smtp_state {
	SMTP_STATE_TLS_WAIT = 0,	/* implicit TLS handshake */
	SMTP_STATE_INIT,		/* greeted, no EHLO yet */
	SMTP_STATE_READY,		/* EHLO done, no transaction */
	SMTP_STATE_MAIL,		/* MAIL accepted */
	SMTP_STATE_RCPT,		/* at least one RCPT accepted */
	SMTP_STATE_DATA,		/* reading DATA content */
	SMTP_STATE_BDAT,		/* reading a BDAT chunk */
	SMTP_STATE_QUEUEING,		/* waiting for the queue commit */
	SMTP_STATE_AUTH,		/* in a SASL exchange */
	SMTP_STATE_CLOSED,
	SMTP_STATE_COUNT
};


struct smtp_session {
	struct session		 base;		/* first: see session.h */
	struct smtp_server	*srv;
	enum listen_service	 service;
	enum smtp_state		 state;
	bool			 committing;
	bool			 quit;
	bool			 discard_line;	/* skip to LF after overflow */
	bool			 processing;	/* inside smtp_process */
	size_t			 progress;	/* DATA octets since timer */

	char			 helo[SMTP_HELO_MAX + 1];
	bool			 authenticated;
	char			 auth_user[SASL_USER_MAX + 1];
	bool			 auth_relay;	/* account setting relay */
	bool			 auth_busy;	/* SASL step or delay running */
	unsigned		 auth_failures;
	uv_timer_t		 auth_timer;
	struct sasl_session	*sasl;
	struct sasl_lookup	 sasl_lookup;
	struct auth_service	 auth_service;
	struct sasl_cbind	 sasl_cbind;
	bool			 esmtp;
	unsigned		 ncommands;
	unsigned		 nerrors;
	unsigned		 nmessages;
	unsigned		 nrejects;
	/* screening: the decision trace, the reference quoted in refusals,
	 * and the rule behind the next refusal (set just before the reply,
	 * cleared once it is logged) */
	struct trace		 trace;
	char			 ref[TRACE_REF_LEN + 1];
	const char		*reject_rule;
	bool			 reject_shadow;
	bool			 screen_allowed;	/* an allow rule */
	bool			 screening;	/* greeting held */
	bool			 dnsbl_done;
	struct dns_query	*rdns_q;
	struct screen_dnsbl	*dnsbl_q;
	struct clamd_scan	*clamd_q;	/* antivirus running */
	bool			 filtering;	/* spam scoring in the pool */
	char			 rdns[256];	/* client's PTR name */
	bool			 rdns_none;	/* the PTR lookup said: none */
	int			 dnsbl_score;	/* summed DNSBL weights */

	/* transaction */
	struct smtp_mail_args	 mail;
	char			 from[SMTP_PATH_MAX + 8];
	char			**rcpts;
	size_t			 nrcpts;
	char			 last_rcpt[SMTP_PATH_MAX + 8];
	struct smtp_data_reader	 reader;
	bool			 bdat_seen;
	uint64_t		 bdat_left;
	bool			 bdat_last;
	bool			 bdat_discard;	/* chunk read and dropped */
	enum smtp_state		 bdat_prev_state;
	char			 qid[QUEUE_ID_LEN + 1];
	struct buf		 msg;
	size_t			 received_len;	/* our Received: in msg */
	struct buf		 env;

	/* domain authentication (smtp_authn.c) */
	struct spf_check	*spf;		/* running */
	int			 spf_result;	/* enum spf_result, -1 none */
	char			 spf_why[256];
	struct dkim_verify	*dkim;
	bool			 dkim_pending;
	struct arc_verify	*arc;
	bool			 arc_pending;
	struct arc_result	*arc_result;	/* NULL: no ARC headers */
	struct spf_check	*sid;		/* Sender ID running */
	int			 sid_result;	/* enum spf_result, -1 none */
	char			 pra[SMTP_PATH_MAX];
	struct dmarc_check	*dmarc;		/* running */
	struct dmarc_result	*dmarc_result;
	bool			 dmarc_started;
	bool			 quarantine;	/* deliver to Junk (DMARC) */
	bool			 authn_waiting;

	/* content filtering (smtp_filter*.c), reset per transaction */
	unsigned		 filter_stage;	/* next stage to run */
	struct content_info	*content;	/* MIME/attachment scan */
	char			 virus[256];	/* signature found, "" none */
	bool			 spam_scored;
	double			 spam_score;	/* 0..1 when spam_scored */
	char			 hold_reason[256];	/* quarantine, "" no */
};

void smtp_enter_state(struct smtp_session *s, enum smtp_state st);
bool smtp_is_tls(const struct smtp_session *s);
/* Queue one reply line; text starts with the RFC 3463 code. 4xx/5xx
 * replies also go to the rejected-session log. */
void smtp_reply(struct smtp_session *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void smtp_log_reject(struct smtp_session *s, int code, const char *text);
/* A refusal by a named rule: the reply (with the session's reference)
 * and a rejected-log row naming rule. */
void smtp_refuse(struct smtp_session *s, const char *rule, int code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void smtp_timer_arm(struct smtp_session *s);
void smtp_close(struct smtp_session *s);
/* Count a client error; past the limit, 421 and close. */
void smtp_count_error(struct smtp_session *s);
void smtp_tx_reset(struct smtp_session *s);
void smtp_free(struct smtp_session *s);
/* Run the input loop again (after an asynchronous step). */
void smtp_session_resume(struct smtp_session *s);

/* smtp_cmd_tx.c */
void cmd_mail(struct smtp_session *s, const char *args, size_t len);
void cmd_rcpt(struct smtp_session *s, const char *args, size_t len);
void cmd_data(struct smtp_session *s, const char *args, size_t len);
void cmd_bdat(struct smtp_session *s, const char *args, size_t len);
size_t smtp_feed_data(struct smtp_session *s, const uint8_t *p, size_t len);
size_t smtp_feed_bdat(struct smtp_session *s, const uint8_t *p, size_t len);

/* smtp_authn.c: SPF from MAIL on, DKIM at the end of DATA, results as
 * Received-SPF and Authentication-Results headers. */
void smtp_authn_mail(struct smtp_session *s);
void smtp_authn_reset(struct smtp_session *s);
/* true: go on now; false: smtp_authn_continue() comes later. */
bool smtp_authn_data_end(struct smtp_session *s);
bool smtp_authn_ready(struct smtp_session *s);
/* 0: accepted (headers written); -1: refused (the reply is sent). */
int smtp_authn_finish(struct smtp_session *s);
/* smtp_cmd_tx.c: queue the message once the results are in. */
void smtp_authn_continue(struct smtp_session *s);

/* smtp_screen.c. connect: true to greet now; false when refused
 * (closed) or when the greeting waits for DNS. The others: true when the
 * client was refused (reply sent; event: the session is closed). */
bool smtp_screen_connect(struct smtp_session *s);
void smtp_screen_abort(struct smtp_session *s);
bool smtp_screen_event(struct smtp_session *s, enum config_dyn what);
bool smtp_screen_helo(struct smtp_session *s);
bool smtp_screen_sender(struct smtp_session *s);
bool smtp_screen_rcpt(struct smtp_session *s, const char *rcpt,
    const char *local_domain);
void smtp_greet(struct smtp_session *s);

/* smtp_filter.c: the content checks before queueing, a chain of stages
 * (attachments, antivirus, outbreak, spam, content rules). Always false:
 * smtp_message_queue() (or a refusal) comes when they are done. (The
 * bool is kept for a chain that may finish at once.) */
bool smtp_filter_start(struct smtp_session *s);
void smtp_filter_abort(struct smtp_session *s);
/* Per transaction state of the stages (from smtp_tx_reset). */
void smtp_filter_reset(struct smtp_session *s);
/* A stage is done: run the next one, or queue the message. */
void smtp_filter_next(struct smtp_session *s);
/* A stage refused the message (reply sent): the transaction is over,
 * the session reads commands again. */
void smtp_filter_refused(struct smtp_session *s);
/* A stage accepted the message and dropped it (rule action discard):
 * 250 without queueing. */
void smtp_filter_discard(struct smtp_session *s);
/* Thread pool work of a stage: after runs on the loop thread; it must
 * call smtp_filter_back() first and stop when that is false (the client
 * went away meanwhile and the session is freed). Returns false when the
 * work could not be queued (nothing will be called back). */
bool smtp_filter_pool(struct smtp_session *s, uv_work_t *w,
    uv_work_cb work, uv_after_work_cb after);
bool smtp_filter_back(struct smtp_session *s);
/* Mail from outside: not authenticated, not from trusted networks. */
bool smtp_filter_inbound(const struct smtp_session *s);
/* Insert a header line (with CRLF) right after our Received: header. */
void smtp_filter_insert_header(struct smtp_session *s, const char *line);
/* The stages, in order, each in its own file. */
void smtp_filter_attach(struct smtp_session *s);	/* _attach.c */
void smtp_filter_av(struct smtp_session *s);		/* _av.c */
void smtp_filter_av_abort(struct smtp_session *s);
void smtp_filter_outbreak(struct smtp_session *s);	/* _outbreak.c */
void smtp_filter_spam(struct smtp_session *s);		/* _spam.c */
void smtp_filter_rules(struct smtp_session *s);	/* _rules.c */
/* smtp_cmd_tx.c: write the accepted message to the queue. */
void smtp_message_queue(struct smtp_session *s);

/* smtp_hijack.c: true when refused (reply sent). */
bool smtp_hijack_mail(struct smtp_session *s);
bool smtp_hijack_auth_ok(struct smtp_session *s);
bool smtp_hijack_data_end(struct smtp_session *s);
void smtp_hijack_queued(struct smtp_session *s);

/* smtp_cmd_auth.c */
void cmd_auth(struct smtp_session *s, const char *args, size_t len);
/* A client line during a SASL exchange. */
void smtp_auth_line(struct smtp_session *s, const char *line, size_t len);
/* The "250-AUTH ..." EHLO line, when AUTH is offered. */
void smtp_auth_ehlo(struct smtp_session *s);
bool smtp_may_relay(const struct smtp_session *s);
/* Submission ports: MAIL needs AUTH first. */
bool smtp_auth_required(const struct smtp_session *s);
/* May this session use addr as a sender: 1 yes, 0 no, -1 db error. */
int smtp_sender_owned(struct smtp_session *s, const char *addr);
/* The same for every From: header address of msg; the first refused one
 * goes to bad. */
int smtp_header_from_owned(struct smtp_session *s, const uint8_t *msg,
    size_t len, char *bad, size_t badlen);

#endif
