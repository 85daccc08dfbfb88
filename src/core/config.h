/* config: the moatd.conf INI file (libinih). Every key has a default and a
 * validator; an unknown section or key, or a bad value, is an error naming
 * the file, line and key. The parsed result is a plain struct. */
#ifndef MOAT_CONFIG_H
#define MOAT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"

#define CONFIG_MAX_LISTEN 8	/* addresses per service */
#define CONFIG_MAX_NETWORKS 64	/* trusted networks */
#define CONFIG_MAX_RESOLVERS 4
#define CONFIG_MAX_ROUTES 128	/* [transport], [tls_policy] entries */
#define CONFIG_PATH_MAX 1024

enum listen_service {
	SERVICE_SMTP = 0,	/* 25, STARTTLS offered */
	SERVICE_SUBMISSION,	/* 587, STARTTLS offered */
	SERVICE_SUBMISSIONS,	/* 465, implicit TLS */
	SERVICE_IMAP,
	SERVICE_IMAPS,
	SERVICE_POP3,
	SERVICE_POP3S,
	SERVICE_WEB,		/* HTTPS, implicit TLS: one-click unsubscribe */
	SERVICE_COUNT
};

struct listen_addr {
	char	host[64];	/* numeric IPv4/IPv6 address */
	uint16_t port;
};

enum tls_policy { TLS_POLICY_NONE = 0, TLS_POLICY_MAY, TLS_POLICY_VERIFY };

/* A [transport] entry: mail for domain ("*" = everything else) goes to
 * host:port; brackets in the file ("[host]:port") mean no MX lookup. */
struct transport_route {
	char	 domain[256];
	char	 host[256];
	uint16_t port;
	bool	 no_mx;
	char	 user[128];	/* [transport_auth]: SMTP AUTH credentials */
	char	 password[256];
};

/* A threshold "LIMIT/WINDOW" ("100/1m"): more than limit events within
 * window seconds trips it; limit 0 turns it off. */
struct config_rate {
	unsigned	 limit;
	unsigned	 window;	/* seconds */
};
#define CONFIG_MAX_RATES 3	/* "1000/1m, 5000/1h, 20000/1d" */

/* What a screening or hijack rule does when it trips: act, or only log
 * what it would have done (shadow mode, to try a threshold first). */
enum config_mode { MODE_ENFORCE = 0, MODE_SHADOW };

/* The dynamic-screening counters per client address. */
enum config_dyn {
	DYNCFG_UNKNOWN_RCPT = 0,	/* RCPT to a local nobody */
	DYNCFG_AUTH_FAIL,		/* failed logins, every service */
	DYNCFG_CONNECT,			/* connections */
	DYNCFG_PROTO_ERROR,		/* syntax errors, bad sequence */
	DYNCFG_RELAY,			/* relay attempts refused */
	DYNCFG_COUNT
};

struct tls_policy_route {
	char		 domain[256];	/* "*" = default */
	enum tls_policy	 policy;
};

struct config {
	/* [server] */
	char	hostname[256];
	char	data_dir[CONFIG_PATH_MAX];
	char	user[64];
	unsigned workers;
	unsigned drain_timeout;		/* seconds */
	int	log_level;		/* enum log_level */

	/* [listen] */
	struct listen_addr listen[SERVICE_COUNT][CONFIG_MAX_LISTEN];
	unsigned nlisten[SERVICE_COUNT];

	/* [tls] */
	char	tls_cert[CONFIG_PATH_MAX];	/* empty: self-signed */
	char	tls_key[CONFIG_PATH_MAX];
	char	tls_ciphers[512];		/* TLS 1.2 cipher list */

	/* [limits] */
	uint64_t message_size;		/* bytes */
	unsigned recipients;		/* per message */
	unsigned line_length;		/* text line in DATA, incl CRLF */
	unsigned commands;		/* per session */
	unsigned errors;		/* per session, then 421 */
	unsigned messages;		/* per session */
	unsigned sessions;		/* per worker */
	unsigned idle_timeout;		/* seconds, RFC 5321 4.5.3.2 */
	unsigned busy_timeout;		/* seconds, once busy_sessions reached */
	unsigned busy_sessions;		/* per worker */

	/* [queue] */
	unsigned retry_min;		/* seconds */
	unsigned retry_max;		/* seconds */
	unsigned delivery_threads;
	unsigned bounce_after;		/* seconds in the queue, then DSN */
	unsigned delay_warning;		/* seconds, then a delay DSN; 0 off */
	unsigned max_received;		/* Received: headers: a mail loop */

	/* [relay] */
	struct cidr trusted[CONFIG_MAX_NETWORKS];
	unsigned ntrusted;

	/* [auth] */
	bool	 auth_cleartext_loopback;	/* PLAIN/LOGIN without TLS
						   from loopback */
	bool	 pop_before_smtp;
	unsigned pop_before_smtp_window;	/* seconds */
	unsigned scram_iterations;
	char	 any_sender[1024];	/* accounts that may use any sender */

	/* [authn] */
	bool	 spf;			/* check SPF of inbound mail */
	bool	 dkim_verify;		/* verify DKIM of inbound mail */
	bool	 dmarc;			/* apply DMARC policies */
	bool	 arc;			/* verify ARC chains */
	bool	 sender_id;		/* Sender ID (historic; recorded) */
	bool	 spf_fail_reject;	/* 550 on SPF fail without DMARC */
	char	 dmarc_exempt[1024];	/* From domains never refused */
	/* DMARC aggregate reports (authn/dmarc_report.h) */
	bool	 dmarc_reports;		/* send them (rua=), off by default */
	unsigned dmarc_report_interval;	/* seconds, periods aligned to UTC */
	unsigned dmarc_report_retention;	/* rows kept at most, seconds */
	char	 dmarc_report_org[256];	/* "": the hostname */
	char	 dmarc_report_email[256];	/* "": postmaster@ its domain */

	/* [dns] */
	struct listen_addr resolvers[CONFIG_MAX_RESOLVERS];
	unsigned nresolvers;
	unsigned dns_timeout;			/* milliseconds */

	/* [delivery]: the outbound SMTP client */
	unsigned connect_timeout;		/* seconds */
	unsigned smtp_timeout;			/* seconds per reply */
	unsigned dest_concurrency;		/* connections per host */
	unsigned messages_per_connection;
	unsigned smtp_port;			/* of MX hosts (25) */

	/* [transport], [transport_auth], [tls_policy] */
	struct transport_route routes[CONFIG_MAX_ROUTES];
	unsigned nroutes;
	struct tls_policy_route tls_policies[CONFIG_MAX_ROUTES];
	unsigned ntls_policies;
	enum tls_policy tls_policy_default;

	/* [screen]: static rules live in the database (moatctl screen) */
	bool	 fcrdns;		/* host rules need forward-confirmed
					   rDNS */
	char	 dnsbl[2048];		/* zone list, dnsbl_parse() syntax */
	int	 dnsbl_reject;		/* refuse at this score; 0: never */
	enum config_mode dnsbl_mode;
	bool	 dnsbl_loopback;	/* tests: look up 127.0.0.0/8 too */

	/* [dynamic] */
	struct config_rate dyn[DYNCFG_COUNT];
	enum config_mode dyn_mode[DYNCFG_COUNT];
	unsigned ban_time;		/* seconds, first offence */
	unsigned ban_max;		/* seconds, cap for repeat offenders */
	unsigned aggregate_v4;		/* count per /N network */
	unsigned aggregate_v6;
	char	 nat_exempt[1024];	/* "domain=cidr, ..." */
	char	 honeypots[1024];	/* login names that ban at once */
	struct config_rate spray;	/* distinct failing IPs per account */
	unsigned spray_block;		/* seconds */
	enum config_mode spray_mode;
	unsigned notify_failures;	/* per account, then mail postmaster */
	unsigned notify_interval;	/* seconds between mails per topic */
	unsigned screen_table;		/* addresses tracked at once */

	/* [hijack]: per authenticated account */
	struct config_rate hj_messages[CONFIG_MAX_RATES];
	unsigned nhj_messages;
	struct config_rate hj_local_messages[CONFIG_MAX_RATES];
	unsigned nhj_local_messages;
	struct config_rate hj_recipients[CONFIG_MAX_RATES];
	unsigned nhj_recipients;
	struct config_rate hj_first_rcpts;	/* never written to before */
	struct config_rate hj_login_ips;	/* distinct client addresses */
	char	 hj_admins[1024];	/* notified; may unfreeze */
	char	 hj_exempt[1024];	/* bulk senders never frozen */
	bool	 hj_frozen_mail_access;	/* IMAP/POP3 for a frozen account */
	enum config_mode hj_mode;

	/* [log] */
	unsigned rejected_retention;	/* seconds */

	/* [antivirus]: clamd, spoken to over INSTREAM */
	char	 clamd[CONFIG_PATH_MAX];	/* unix:/path, tcp:HOST:PORT;
						   empty: off */
	unsigned av_timeout;			/* milliseconds per scan */
	bool	 av_fail_open;			/* clamd down: accept */
	uint64_t av_max_size;			/* bytes sent to clamd */
	bool	 av_quarantine_in;		/* action_inbound: a virus is
						   quarantined, not refused */
	bool	 av_quarantine_out;		/* action_outbound */

	/* [quarantine]: held messages, <data_dir>/quarantine */
	unsigned quarantine_retention;		/* seconds, then removed */

	/* [attachments]: smtp_filter_attach, both directions */
	char	 att_block_names[1024];		/* globs on file names */
	char	 att_block_types[256];		/* detected types */
	bool	 att_archives;			/* look inside zips */
	uint64_t att_max_decoded;		/* decoded octets, all parts */
	unsigned att_max_nesting;		/* MIME + archive depth */
	unsigned att_max_parts;			/* parts + archive members */
	bool	 att_quarantine;		/* action: quarantine, else reject */

	/* [spam] */
	bool	 spam;				/* score inbound mail */
	unsigned spam_junk;			/* percent: file into Junk */
	unsigned spam_reject;			/* percent: refuse; 0 never */
	unsigned spam_learn_spam;		/* auto-learn at/above */
	unsigned spam_learn_ham;		/* auto-learn at/below */
	bool	 spam_learn_moves;		/* IMAP moves to/from Junk
						   teach the filter */
	bool	 spam_moves_global;		/* moves teach the global scope
						   too, not only the user's */
	bool	 spam_per_user;			/* score with the recipient's
						   own training */
	unsigned spam_user_min;			/* messages a user teaches
						   before it counts */

	/* [filter]: content-filter rules */
	char	 filter_rules[CONFIG_PATH_MAX];	/* rule file; empty: none */

	/* [archive] */
	char	 archive_domains[1024];		/* "*", a list, or empty */
	bool	 archive_spam;
	unsigned archive_days;			/* 0: keep forever */

	/* [outbreak]: fuzzy fingerprints counted across sources */
	bool	 ob_enabled;
	unsigned ob_sources;		/* distinct sources to trip */
	unsigned ob_recipients;		/* distinct recipients to trip */
	unsigned ob_window;		/* seconds */
	bool	 ob_quarantine;		/* action: hold, not 451 */
	char	 ob_exempt[1024];	/* senders never counted */
	enum config_mode ob_mode;
	unsigned ob_table;		/* fingerprints remembered */

	/* [lists]: mailing lists (src/store/list_*.c) */
	char	 list_web_url[512];	/* one-click unsubscribe base URL;
					   empty: mailto only */
	unsigned list_bounce_limit;	/* bounces that disable a member */
	unsigned list_token_ttl;	/* seconds a confirmation lives */
	bool	 list_strip_dkim;	/* remove the author's DKIM */
	bool	 list_arc_seal;		/* ARC-seal the copies */
};

/* Fill in every default (hostname from gethostname()). */
void config_defaults(struct config *cfg);
/* Load path over the defaults. Returns 0, or -1 with a message in err. */
int config_load(struct config *cfg, const char *path, char *err,
    size_t errlen);
/* Parse one "ADDR:PORT[,ADDR:PORT...]" value; used by config_load. */
int config_parse_listen(const char *value, struct listen_addr *out,
    unsigned max, unsigned *n_r, const char **error_r);
const char *config_service_name(enum listen_service s);
/* The [transport] route for a domain (exact, then parent domains, then
 * "*"), or NULL: deliver by MX. */
const struct transport_route *config_route(const struct config *cfg,
    const char *domain);
enum tls_policy config_tls_policy(const struct config *cfg,
    const char *domain);

#endif
