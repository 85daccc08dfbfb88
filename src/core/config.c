/* config: load and validate moatd.conf with libinih. A table maps every
 * section/key to a typed slot with a range; anything not in the table is
 * an error, so a typo never silently falls back to a default. */
#include "config.h"

#include <ini.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

enum key_type { KEY_STR, KEY_UINT, KEY_SIZE, KEY_DURATION, KEY_LISTEN,
	KEY_LOGLEVEL, KEY_HOSTNAME, KEY_BOOL, KEY_CIDRS, KEY_RESOLVERS,
	KEY_DURATION_MS, KEY_TLS_POLICY, KEY_RATE, KEY_RATES, KEY_MODE,
	KEY_ACTION };

struct key_def {
	const char	*section;
	const char	*name;
	enum key_type	 type;
	size_t		 offset;	/* into struct config */
	size_t		 size;		/* for KEY_STR */
	uint64_t	 min, max;
	int		 service;	/* for KEY_LISTEN */
};

#define STR(sec, key, field)                                           \
	{ sec, key, KEY_STR, offsetof(struct config, field),           \
	  sizeof(((struct config *)0)->field), 0, 0, 0 }
#define NUM(sec, key, type, field, lo, hi)                             \
	{ sec, key, type, offsetof(struct config, field),              \
	  sizeof(((struct config *)0)->field), lo, hi, 0 }
/* KEY_RATES: the count of entries is the unsigned right after the
 * array (min/max hold its offset). */
#define RATES(sec, key, field, nfield)                                 \
	{ sec, key, KEY_RATES, offsetof(struct config, field),         \
	  sizeof(((struct config *)0)->field),                         \
	  offsetof(struct config, nfield), 0, 0 }
#define DYN(key, idx)                                                  \
	NUM("dynamic", key, KEY_RATE, dyn[idx], 0, 0),                 \
	NUM("dynamic", key "_mode", KEY_MODE, dyn_mode[idx], 0, 0)
#define LISTEN(key, svc)                                               \
	{ "listen", key, KEY_LISTEN, 0, 0, 0, 0, svc }

static const struct key_def keys[] = {
	{ "server", "hostname", KEY_HOSTNAME, offsetof(struct config,
	    hostname), sizeof(((struct config *)0)->hostname), 0, 0, 0 },
	STR("server", "data_dir", data_dir),
	STR("server", "user", user),
	NUM("server", "workers", KEY_UINT, workers, 1, 256),
	NUM("server", "drain_timeout", KEY_DURATION, drain_timeout, 0, 3600),
	{ "server", "log_level", KEY_LOGLEVEL, offsetof(struct config,
	    log_level), sizeof(int), 0, 0, 0 },
	LISTEN("smtp", SERVICE_SMTP),
	LISTEN("submission", SERVICE_SUBMISSION),
	LISTEN("submissions", SERVICE_SUBMISSIONS),
	LISTEN("imap", SERVICE_IMAP),
	LISTEN("imaps", SERVICE_IMAPS),
	LISTEN("pop3", SERVICE_POP3),
	LISTEN("pop3s", SERVICE_POP3S),
	LISTEN("web", SERVICE_WEB),
	STR("tls", "cert", tls_cert),
	STR("tls", "key", tls_key),
	STR("tls", "ciphers", tls_ciphers),
	NUM("limits", "message_size", KEY_SIZE, message_size, 1024,
	    (uint64_t)2 << 30),
	NUM("limits", "recipients", KEY_UINT, recipients, 1, 100000),
	NUM("limits", "line_length", KEY_SIZE, line_length, 1000, 1 << 20),
	NUM("limits", "commands", KEY_UINT, commands, 10, 10000000),
	NUM("limits", "errors", KEY_UINT, errors, 1, 1000),
	NUM("limits", "messages", KEY_UINT, messages, 1, 1000000),
	NUM("limits", "sessions", KEY_UINT, sessions, 1, 1000000),
	NUM("limits", "idle_timeout", KEY_DURATION, idle_timeout, 1, 3600),
	NUM("limits", "busy_timeout", KEY_DURATION, busy_timeout, 1, 3600),
	NUM("limits", "busy_sessions", KEY_UINT, busy_sessions, 1, 1000000),
	NUM("queue", "retry_min", KEY_DURATION, retry_min, 1, 86400),
	NUM("queue", "retry_max", KEY_DURATION, retry_max, 1, 7 * 86400),
	NUM("queue", "delivery_threads", KEY_UINT, delivery_threads, 1, 64),
	NUM("queue", "bounce_after", KEY_DURATION, bounce_after, 60,
	    60 * 86400),
	NUM("queue", "delay_warning", KEY_DURATION, delay_warning, 0,
	    60 * 86400),
	NUM("queue", "max_received", KEY_UINT, max_received, 5, 500),
	{ "relay", "trusted_networks", KEY_CIDRS, 0, 0, 0, 0, 0 },
	NUM("auth", "cleartext_loopback", KEY_BOOL, auth_cleartext_loopback,
	    0, 1),
	NUM("auth", "pop_before_smtp", KEY_BOOL, pop_before_smtp, 0, 1),
	NUM("auth", "pop_before_smtp_window", KEY_DURATION,
	    pop_before_smtp_window, 60, 86400),
	NUM("auth", "scram_iterations", KEY_UINT, scram_iterations, 4096,
	    1000000),
	STR("auth", "any_sender", any_sender),
	NUM("authn", "spf", KEY_BOOL, spf, 0, 1),
	NUM("authn", "dkim_verify", KEY_BOOL, dkim_verify, 0, 1),
	NUM("authn", "dmarc", KEY_BOOL, dmarc, 0, 1),
	NUM("authn", "arc", KEY_BOOL, arc, 0, 1),
	NUM("authn", "sender_id", KEY_BOOL, sender_id, 0, 1),
	NUM("authn", "spf_fail_reject", KEY_BOOL, spf_fail_reject, 0, 1),
	STR("authn", "dmarc_exempt", dmarc_exempt),
	NUM("authn", "dmarc_reports", KEY_BOOL, dmarc_reports, 0, 1),
	NUM("authn", "dmarc_report_interval", KEY_DURATION,
	    dmarc_report_interval, 3600, 86400),
	NUM("authn", "dmarc_report_retention", KEY_DURATION,
	    dmarc_report_retention, 3600, 366 * 86400),
	STR("authn", "dmarc_report_org", dmarc_report_org),
	STR("authn", "dmarc_report_email", dmarc_report_email),
	{ "dns", "resolver", KEY_RESOLVERS, 0, 0, 0, 0, 0 },
	NUM("dns", "timeout", KEY_DURATION_MS, dns_timeout, 100, 60000),
	NUM("delivery", "connect_timeout", KEY_DURATION, connect_timeout, 1,
	    600),
	NUM("delivery", "smtp_timeout", KEY_DURATION, smtp_timeout, 1, 3600),
	NUM("delivery", "concurrency", KEY_UINT, dest_concurrency, 1, 1000),
	NUM("delivery", "messages_per_connection", KEY_UINT,
	    messages_per_connection, 1, 10000),
	{ "delivery", "tls", KEY_TLS_POLICY, 0, 0, 0, 0, 0 },
	NUM("delivery", "port", KEY_UINT, smtp_port, 1, 65535),
	NUM("screen", "fcrdns", KEY_BOOL, fcrdns, 0, 1),
	STR("screen", "dnsbl", dnsbl),
	NUM("screen", "dnsbl_reject", KEY_UINT, dnsbl_reject, 0, 1000),
	NUM("screen", "dnsbl_mode", KEY_MODE, dnsbl_mode, 0, 0),
	NUM("screen", "dnsbl_loopback", KEY_BOOL, dnsbl_loopback, 0, 1),
	DYN("unknown_rcpt", DYNCFG_UNKNOWN_RCPT),
	DYN("auth_fail", DYNCFG_AUTH_FAIL),
	DYN("connections", DYNCFG_CONNECT),
	DYN("protocol_errors", DYNCFG_PROTO_ERROR),
	DYN("relay_attempts", DYNCFG_RELAY),
	NUM("dynamic", "ban_time", KEY_DURATION, ban_time, 1, 365 * 86400),
	NUM("dynamic", "ban_max", KEY_DURATION, ban_max, 1, 365 * 86400),
	NUM("dynamic", "aggregate_v4", KEY_UINT, aggregate_v4, 8, 32),
	NUM("dynamic", "aggregate_v6", KEY_UINT, aggregate_v6, 16, 128),
	STR("dynamic", "nat_exempt", nat_exempt),
	STR("dynamic", "honeypots", honeypots),
	NUM("dynamic", "spray", KEY_RATE, spray, 0, 0),
	NUM("dynamic", "spray_block", KEY_DURATION, spray_block, 1,
	    30 * 86400),
	NUM("dynamic", "spray_mode", KEY_MODE, spray_mode, 0, 0),
	NUM("dynamic", "notify_failures", KEY_UINT, notify_failures, 0,
	    1000000),
	NUM("dynamic", "notify_interval", KEY_DURATION, notify_interval, 1,
	    7 * 86400),
	NUM("dynamic", "table_size", KEY_UINT, screen_table, 1024, 1 << 24),
	RATES("hijack", "messages", hj_messages, nhj_messages),
	RATES("hijack", "local_messages", hj_local_messages,
	    nhj_local_messages),
	RATES("hijack", "recipients", hj_recipients, nhj_recipients),
	NUM("hijack", "first_time_recipients", KEY_RATE, hj_first_rcpts, 0,
	    0),
	NUM("hijack", "login_ips", KEY_RATE, hj_login_ips, 0, 0),
	STR("hijack", "admins", hj_admins),
	STR("hijack", "exempt", hj_exempt),
	NUM("hijack", "frozen_mail_access", KEY_BOOL, hj_frozen_mail_access,
	    0, 1),
	NUM("hijack", "mode", KEY_MODE, hj_mode, 0, 0),
	NUM("log", "rejected_retention", KEY_DURATION, rejected_retention,
	    3600, 3650 * 86400),
	STR("antivirus", "clamd", clamd),
	NUM("antivirus", "timeout", KEY_DURATION_MS, av_timeout, 100,
	    600000),
	NUM("antivirus", "fail_open", KEY_BOOL, av_fail_open, 0, 1),
	NUM("antivirus", "max_size", KEY_SIZE, av_max_size, 1024,
	    (uint64_t)4 << 30),
	NUM("antivirus", "action_inbound", KEY_ACTION, av_quarantine_in, 0, 1),
	NUM("antivirus", "action_outbound", KEY_ACTION, av_quarantine_out, 0,
	    1),
	/* [quarantine] */
	NUM("quarantine", "retention", KEY_DURATION, quarantine_retention,
	    3600, 3650 * 86400),
	STR("attachments", "block_names", att_block_names),
	STR("attachments", "block_types", att_block_types),
	NUM("attachments", "archives", KEY_BOOL, att_archives, 0, 1),
	NUM("attachments", "max_decoded_size", KEY_SIZE, att_max_decoded,
	    1024, (uint64_t)4 << 30),
	NUM("attachments", "max_nesting", KEY_UINT, att_max_nesting, 1, 30),
	NUM("attachments", "max_parts", KEY_UINT, att_max_parts, 1, 5000),
	NUM("attachments", "action", KEY_ACTION, att_quarantine, 0, 1),
	NUM("spam", "enabled", KEY_BOOL, spam, 0, 1),
	NUM("spam", "junk_score", KEY_UINT, spam_junk, 1, 100),
	NUM("spam", "reject_score", KEY_UINT, spam_reject, 0, 100),
	NUM("spam", "learn_spam", KEY_UINT, spam_learn_spam, 1, 100),
	NUM("spam", "learn_ham", KEY_UINT, spam_learn_ham, 0, 99),
	NUM("spam", "learn_from_moves", KEY_BOOL, spam_learn_moves, 0, 1),
	NUM("spam", "moves_teach_global", KEY_BOOL, spam_moves_global, 0, 1),
	NUM("spam", "per_user", KEY_BOOL, spam_per_user, 0, 1),
	NUM("spam", "user_min", KEY_UINT, spam_user_min, 1, 1000000),
	STR("filter", "rules", filter_rules),
	STR("archive", "domains", archive_domains),
	NUM("archive", "include_spam", KEY_BOOL, archive_spam, 0, 1),
	NUM("archive", "retention", KEY_UINT, archive_days, 0, 36500),
	NUM("outbreak", "enabled", KEY_BOOL, ob_enabled, 0, 1),
	NUM("outbreak", "sources", KEY_UINT, ob_sources, 1, 100000),
	NUM("outbreak", "recipients", KEY_UINT, ob_recipients, 1, 100000),
	NUM("outbreak", "window", KEY_DURATION, ob_window, 60, 7 * 86400),
	NUM("outbreak", "action", KEY_ACTION, ob_quarantine, 0, 1),
	STR("outbreak", "exempt", ob_exempt),
	NUM("outbreak", "mode", KEY_MODE, ob_mode, 0, 0),
	NUM("outbreak", "table_size", KEY_UINT, ob_table, 256, 1 << 20),
	/* [lists] */
	STR("lists", "web_url", list_web_url),
	NUM("lists", "bounce_limit", KEY_UINT, list_bounce_limit, 1, 1000),
	NUM("lists", "token_ttl", KEY_DURATION, list_token_ttl, 60,
	    30 * 86400),
	NUM("lists", "strip_dkim", KEY_BOOL, list_strip_dkim, 0, 1),
	NUM("lists", "arc_seal", KEY_BOOL, list_arc_seal, 0, 1),
};

static const char *service_names[SERVICE_COUNT] = {
	"smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s",
	"web",
};

const char *
config_service_name(enum listen_service s)
{
	return (unsigned)s < SERVICE_COUNT ? service_names[s] : "?";
}

void
config_defaults(struct config *cfg)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	memset(cfg, 0, sizeof(*cfg));
	if (gethostname(cfg->hostname, sizeof(cfg->hostname)) < 0 ||
	    cfg->hostname[0] == '\0')
		moat_strlcpy(cfg->hostname, "localhost", sizeof(cfg->hostname));
	cfg->hostname[sizeof(cfg->hostname) - 1] = '\0';
	moat_strlcpy(cfg->data_dir, "/var/lib/moat", sizeof(cfg->data_dir));
	moat_strlcpy(cfg->user, "moat", sizeof(cfg->user));
	cfg->workers = n > 0 && n <= 256 ? (unsigned)n : 1;
	cfg->drain_timeout = 30;
	cfg->log_level = LOG_LEVEL_INFO;
	/* Mozilla "intermediate": forward secrecy and AEAD only. */
	moat_strlcpy(cfg->tls_ciphers,
	    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305",
	    sizeof(cfg->tls_ciphers));
	cfg->message_size = 50 * 1024 * 1024;
	cfg->recipients = 1000;
	cfg->line_length = 1000;	/* RFC 5321 4.5.3.1.6 */
	cfg->commands = 10000;
	cfg->errors = 10;
	cfg->messages = 1000;
	cfg->sessions = 5000;
	cfg->idle_timeout = 300;	/* RFC 5321 4.5.3.2.7 */
	cfg->busy_timeout = 30;
	cfg->busy_sessions = 2000;
	cfg->retry_min = 300;		/* 5m, 10m, 20m ... */
	cfg->retry_max = 4 * 3600;
	cfg->delivery_threads = 8;
	cfg->bounce_after = 5 * 86400;
	cfg->delay_warning = 4 * 3600;
	cfg->max_received = 50;
	/* Only the machine itself is trusted to relay by default. */
	(void)cidr_parse("127.0.0.1", &cfg->trusted[0]);
	(void)cidr_parse("::1", &cfg->trusted[1]);
	cfg->ntrusted = 2;
	cfg->auth_cleartext_loopback = false;
	cfg->pop_before_smtp = false;
	cfg->pop_before_smtp_window = 30 * 60;
	cfg->scram_iterations = 4096;	/* RFC 7677 minimum */
	cfg->dns_timeout = 5000;
	cfg->spf = true;
	cfg->dkim_verify = true;
	cfg->dmarc = true;
	cfg->arc = true;
	cfg->sender_id = false;	/* historic (RFC 4406): on request */
	cfg->spf_fail_reject = true;
	cfg->dmarc_reports = false;	/* RFC 7489 7.2: the receiver's choice */
	cfg->dmarc_report_interval = 86400;	/* RFC 7489 6.3 ri= default */
	cfg->dmarc_report_retention = 7 * 86400;
	cfg->connect_timeout = 30;
	cfg->smtp_timeout = 300;	/* RFC 5321 4.5.3.2 */
	cfg->dest_concurrency = 20;
	cfg->messages_per_connection = 100;
	cfg->smtp_port = 25;
	cfg->tls_policy_default = TLS_POLICY_MAY;
	cfg->dnsbl_reject = 0;
	/* Dynamic screening: the thresholds of the issue that asked for
	 * it (and of MDaemon's defaults): a dictionary attack or a
	 * password guesser is out within a minute, a user who mistypes a
	 * few times is not. */
	cfg->dyn[DYNCFG_UNKNOWN_RCPT] = (struct config_rate){ 100, 60 };
	cfg->dyn[DYNCFG_AUTH_FAIL] = (struct config_rate){ 20, 60 };
	cfg->dyn[DYNCFG_CONNECT] = (struct config_rate){ 0, 60 };
	cfg->dyn[DYNCFG_PROTO_ERROR] = (struct config_rate){ 50, 60 };
	cfg->dyn[DYNCFG_RELAY] = (struct config_rate){ 20, 60 };
	cfg->ban_time = 600;
	cfg->ban_max = 86400;
	cfg->aggregate_v4 = 32;
	cfg->aggregate_v6 = 64;		/* one subscriber's usual network */
	cfg->spray = (struct config_rate){ 10, 600 };
	cfg->spray_block = 1800;
	cfg->notify_failures = 10;
	cfg->notify_interval = 3600;
	cfg->screen_table = 131072;
	cfg->hj_messages[0] = (struct config_rate){ 1000, 60 };
	cfg->hj_messages[1] = (struct config_rate){ 5000, 3600 };
	cfg->hj_messages[2] = (struct config_rate){ 20000, 86400 };
	cfg->nhj_messages = 3;
	cfg->hj_local_messages[0] = (struct config_rate){ 5000, 60 };
	cfg->nhj_local_messages = 1;
	cfg->hj_recipients[0] = (struct config_rate){ 2000, 60 };
	cfg->hj_recipients[1] = (struct config_rate){ 10000, 3600 };
	cfg->nhj_recipients = 2;
	cfg->hj_first_rcpts = (struct config_rate){ 200, 86400 };
	cfg->hj_login_ips = (struct config_rate){ 10, 3600 };
	cfg->hj_frozen_mail_access = true;
	cfg->rejected_retention = 30 * 86400;
	cfg->av_timeout = 30000;
	cfg->av_max_size = 100 * 1024 * 1024;	/* clamd's StreamMaxLength */
	cfg->av_quarantine_in = false;		/* reject */
	cfg->av_quarantine_out = false;
	cfg->quarantine_retention = 30 * 86400;
	moat_strlcpy(cfg->att_block_names, "*.exe,*.scr,*.com,*.pif,*.bat,"
	    "*.cmd,*.vbs,*.vbe,*.js,*.jse,*.wsf,*.wsh,*.hta,*.cpl,*.msi,"
	    "*.msp,*.jar,*.lnk,*.ps1,*.reg,*.scf", sizeof(cfg->att_block_names));
	moat_strlcpy(cfg->att_block_types, "exe,elf,macho",
	    sizeof(cfg->att_block_types));
	cfg->att_archives = true;
	cfg->att_max_decoded = 100 * 1024 * 1024;
	cfg->att_max_nesting = 5;
	cfg->att_max_parts = 500;
	cfg->spam = true;
	cfg->spam_junk = 90;
	cfg->spam_reject = 0;		/* never refuse on the score alone */
	cfg->spam_learn_spam = 99;
	cfg->spam_learn_ham = 1;
	cfg->spam_learn_moves = true;
	cfg->spam_moves_global = true;
	cfg->spam_per_user = true;
	cfg->spam_user_min = 200;	/* bayes_params_default() */
	cfg->filter_rules[0] = '\0';	/* [filter] rules: none */
	cfg->archive_spam = true;
	cfg->archive_days = 0;
	cfg->ob_enabled = true;
	cfg->ob_sources = 10;
	cfg->ob_recipients = 50;
	cfg->ob_window = 3600;
	cfg->ob_table = 8192;
	cfg->list_bounce_limit = 5;
	cfg->list_token_ttl = 3 * 86400;
	cfg->list_strip_dkim = true;
	cfg->list_arc_seal = true;
}

/* "LIMIT/WINDOW": 100/1m, 0/1m (off). */
static int
parse_rate(const char *v, struct config_rate *r, const char **error_r)
{
	const char *slash = strchr(v, '/');
	char num[24];
	uint64_t limit, window;
	size_t l;

	while (*v == ' ')
		v++;
	if (slash == NULL || (l = (size_t)(slash - v)) == 0 ||
	    l >= sizeof(num)) {
		*error_r = "expected LIMIT/WINDOW, like 100/1m";
		return -1;
	}
	memcpy(num, v, l);
	while (l > 0 && num[l - 1] == ' ')
		l--;
	num[l] = '\0';
	if (parse_u64(num, 0, 100000000, &limit, error_r) < 0 ||
	    parse_duration(slash + 1, 1, 366 * 86400, &window, error_r) < 0)
		return -1;
	r->limit = (unsigned)limit;
	r->window = (unsigned)window;
	return 0;
}

/* Comma-separated rates, at most CONFIG_MAX_RATES. */
static int
parse_rates(const char *v, struct config_rate *out, unsigned *n_r,
    const char **error_r)
{
	char item[64];
	const char *p = v, *comma;
	size_t l;

	*n_r = 0;
	while (*p != '\0') {
		comma = strchr(p, ',');
		l = comma ? (size_t)(comma - p) : strlen(p);
		if (l >= sizeof(item)) {
			*error_r = "rate too long";
			return -1;
		}
		memcpy(item, p, l);
		item[l] = '\0';
		if (*n_r == CONFIG_MAX_RATES) {
			*error_r = "at most 3 rates";
			return -1;
		}
		if (parse_rate(item, &out[*n_r], error_r) < 0)
			return -1;
		(*n_r)++;
		p = comma ? comma + 1 : p + l;
	}
	return 0;
}

static const struct transport_route *
route_find(const struct config *cfg, const char *domain)
{
	unsigned i;

	for (i = 0; i < cfg->nroutes; i++)
		if (ascii_ieq(cfg->routes[i].domain, domain))
			return &cfg->routes[i];
	return NULL;
}

const struct transport_route *
config_route(const struct config *cfg, const char *domain)
{
	const struct transport_route *r;
	const char *p = domain;

	/* example.net, then net, then "*" */
	while (p != NULL && *p != '\0') {
		if ((r = route_find(cfg, p)) != NULL)
			return r;
		p = strchr(p, '.');
		if (p != NULL)
			p++;
	}
	r = route_find(cfg, "*");
	return r != NULL && r->host[0] != '\0' ? r : NULL;
}

enum tls_policy
config_tls_policy(const struct config *cfg, const char *domain)
{
	unsigned i;

	for (i = 0; i < cfg->ntls_policies; i++)
		if (ascii_ieq(cfg->tls_policies[i].domain, domain))
			return cfg->tls_policies[i].policy;
	return cfg->tls_policy_default;
}

static int
parse_tls_policy(const char *v, enum tls_policy *p)
{
	if (strcmp(v, "none") == 0)
		*p = TLS_POLICY_NONE;
	else if (strcmp(v, "may") == 0)
		*p = TLS_POLICY_MAY;
	else if (strcmp(v, "verify") == 0)
		*p = TLS_POLICY_VERIFY;
	else
		return -1;
	return 0;
}

static bool valid_hostname(const char *s);

/* "[host]:port", "[host]", "host:port" or "host"; brackets: no MX. An
 * empty value routes by MX (useful to exempt a domain from "*"). */
static int
parse_nexthop(const char *v, struct transport_route *r, const char **error_r)
{
	char host[256];
	const char *end, *colon;
	uint64_t port = 25;
	size_t hl;

	r->no_mx = false;
	r->host[0] = '\0';
	r->port = 25;
	if (*v == '\0')
		return 0;
	if (*v == '[') {
		end = strchr(v, ']');
		if (end == NULL) {
			*error_r = "missing ]";
			return -1;
		}
		hl = (size_t)(end - v - 1);
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL) {
			*error_r = "expected [host]:port";
			return -1;
		}
		r->no_mx = true;
		v++;
	} else {
		colon = strrchr(v, ':');
		hl = colon ? (size_t)(colon - v) : strlen(v);
	}
	if (hl == 0 || hl >= sizeof(host)) {
		*error_r = "bad host";
		return -1;
	}
	memcpy(host, v, hl);
	host[hl] = '\0';
	if (colon != NULL && parse_u64(colon + 1, 1, 65535, &port,
	    error_r) < 0)
		return -1;
	if (!valid_hostname(host)) {
		struct in6_addr a6;
		struct in_addr a4;

		if (inet_pton(AF_INET, host, &a4) != 1 &&
		    inet_pton(AF_INET6, host, &a6) != 1) {
			*error_r = "not a host name or address";
			return -1;
		}
	}
	moat_strlcpy(r->host, host, sizeof(r->host));
	r->port = (uint16_t)port;
	return 0;
}

/* Sections whose keys are domain names, not fixed words. */
static int
set_map_key(struct config *cfg, const char *section, const char *name,
    const char *value, bool *handled, const char **error_r)
{
	struct transport_route *r;
	unsigned i;

	*handled = strcmp(section, "transport") == 0 ||
	    strcmp(section, "transport_auth") == 0 ||
	    strcmp(section, "tls_policy") == 0;
	if (!*handled)
		return 0;
	if (strlen(name) >= sizeof(cfg->routes[0].domain) ||
	    (strcmp(name, "*") != 0 && !valid_hostname(name))) {
		*error_r = "key must be a domain or *";
		return -1;
	}
	if (strcmp(section, "transport") == 0) {
		r = (struct transport_route *)route_find(cfg, name);
		if (r == NULL) {
			if (cfg->nroutes == CONFIG_MAX_ROUTES) {
				*error_r = "too many routes";
				return -1;
			}
			r = &cfg->routes[cfg->nroutes++];
			moat_strlcpy(r->domain, name, sizeof(r->domain));
		}
		return parse_nexthop(value, r, error_r);
	}
	if (strcmp(section, "transport_auth") == 0) {
		/* key: the next-hop host; value: user:password */
		const char *colon = strchr(value, ':');
		bool found = false;

		if (colon == NULL || colon == value) {
			*error_r = "expected user:password";
			return -1;
		}
		for (i = 0; i < cfg->nroutes; i++) {
			r = &cfg->routes[i];
			if (!ascii_ieq(r->host, name))
				continue;
			if ((size_t)(colon - value) >= sizeof(r->user) ||
			    strlen(colon + 1) >= sizeof(r->password)) {
				*error_r = "credentials too long";
				return -1;
			}
			memcpy(r->user, value, (size_t)(colon - value));
			r->user[colon - value] = '\0';
			moat_strlcpy(r->password, colon + 1,
			    sizeof(r->password));
			found = true;
		}
		if (!found) {
			*error_r = "no [transport] route uses this host (put "
			    "[transport_auth] after [transport])";
			return -1;
		}
		return 0;
	}
	if (strcmp(section, "tls_policy") == 0) {
		enum tls_policy p;

		if (parse_tls_policy(value, &p) < 0) {
			*error_r = "expected none, may or verify";
			return -1;
		}
		if (strcmp(name, "*") == 0) {
			cfg->tls_policy_default = p;
			return 0;
		}
		if (cfg->ntls_policies == CONFIG_MAX_ROUTES) {
			*error_r = "too many policies";
			return -1;
		}
		moat_strlcpy(cfg->tls_policies[cfg->ntls_policies].domain, name,
		    sizeof(cfg->tls_policies[0].domain));
		cfg->tls_policies[cfg->ntls_policies++].policy = p;
		return 0;
	}
	return 0;
}

int
config_parse_listen(const char *value, struct listen_addr *out,
    unsigned max, unsigned *n_r, const char **error_r)
{
	char item[128];
	const char *p = value;
	unsigned n = 0;

	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *host, *colon, *port;
		uint64_t v;
		struct in6_addr a6;
		struct in_addr a4;

		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0 || len >= sizeof(item)) {
			*error_r = len ? "address too long" : "empty address";
			return -1;
		}
		if (n == max) {
			*error_r = "too many addresses";
			return -1;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		colon = strrchr(item, ':');
		if (colon == NULL) {
			*error_r = "expected ADDR:PORT";
			return -1;
		}
		*colon = '\0';
		port = colon + 1;
		host = item;
		if (host[0] == '[') {
			size_t hl = strlen(host);

			if (hl < 2 || host[hl - 1] != ']') {
				*error_r = "bad [IPv6] address";
				return -1;
			}
			host[hl - 1] = '\0';
			host++;
		} else if (strchr(host, ':') != NULL) {
			/* "2001:db8::1:25" is ambiguous. */
			*error_r = "IPv6 addresses need brackets: [::1]:25";
			return -1;
		}
		if (parse_u64(port, 1, 65535, &v, error_r) < 0)
			return -1;
		if (inet_pton(AF_INET, host, &a4) != 1 &&
		    inet_pton(AF_INET6, host, &a6) != 1) {
			*error_r = "address must be a numeric IPv4 or IPv6 address";
			return -1;
		}
		moat_strlcpy(out[n].host, host, sizeof(out[n].host));
		out[n].port = (uint16_t)v;
		n++;
		p += end ? (size_t)(end - p) + 1 : strlen(p);
		if (end != NULL && *p == '\0') {
			*error_r = "trailing comma";
			return -1;
		}
	}
	*n_r = n;
	return 0;
}

struct load_ctx {
	struct config	*cfg;
	char		*err;
	size_t		 errlen;
	const char	*path;
	int		 failed;
	FILE		*fp;
	int		 lineno;	/* libinih is built without lineno */
};

static bool
valid_hostname(const char *s)
{
	size_t len = strlen(s), label = 0;
	const char *p;

	if (len == 0 || len > 253)
		return false;
	for (p = s; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-'))
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

static int
set_key(struct config *cfg, const struct key_def *k, const char *value,
    const char **error_r)
{
	char *slot = (char *)cfg + k->offset;
	uint64_t v = 0;
	enum log_level lvl;

	switch (k->type) {
	case KEY_HOSTNAME:
		if (!valid_hostname(value)) {
			*error_r = "not a valid host name";
			return -1;
		}
		/* FALLTHROUGH */
	case KEY_STR:
		if (strlen(value) >= k->size) {
			*error_r = "value too long";
			return -1;
		}
		memcpy(slot, value, strlen(value) + 1);
		return 0;
	case KEY_UINT:
		if (parse_u64(value, k->min, k->max, &v, error_r) < 0)
			return -1;
		break;
	case KEY_SIZE:
		if (parse_size(value, k->min, k->max, &v, error_r) < 0)
			return -1;
		break;
	case KEY_DURATION:
		if (parse_duration(value, k->min, k->max, &v, error_r) < 0)
			return -1;
		break;
	case KEY_LOGLEVEL:
		if (log_level_parse(value, &lvl) < 0) {
			*error_r = "expected warn, info or debug";
			return -1;
		}
		cfg->log_level = (int)lvl;
		return 0;
	case KEY_LISTEN:
		return config_parse_listen(value, cfg->listen[k->service],
		    CONFIG_MAX_LISTEN, &cfg->nlisten[k->service], error_r);
	case KEY_RESOLVERS:
		return config_parse_listen(value, cfg->resolvers,
		    CONFIG_MAX_RESOLVERS, &cfg->nresolvers, error_r);
	case KEY_CIDRS:
		return cidr_parse_list(value, cfg->trusted,
		    CONFIG_MAX_NETWORKS, &cfg->ntrusted, error_r);
	case KEY_TLS_POLICY:
		if (parse_tls_policy(value, &cfg->tls_policy_default) < 0) {
			*error_r = "expected none, may or verify";
			return -1;
		}
		return 0;
	case KEY_RATE:
		return parse_rate(value, (struct config_rate *)(void *)slot,
		    error_r);
	case KEY_RATES:
		return parse_rates(value, (struct config_rate *)(void *)slot,
		    (unsigned *)(void *)((char *)cfg + k->min), error_r);
	case KEY_MODE:
		if (strcmp(value, "enforce") == 0)
			*(enum config_mode *)(void *)slot = MODE_ENFORCE;
		else if (strcmp(value, "shadow") == 0)
			*(enum config_mode *)(void *)slot = MODE_SHADOW;
		else {
			*error_r = "expected enforce or shadow";
			return -1;
		}
		return 0;
	case KEY_ACTION:
		/* What a filter verdict does: refuse at DATA or hold. */
		if (strcmp(value, "reject") == 0)
			*(bool *)(void *)slot = false;
		else if (strcmp(value, "quarantine") == 0)
			*(bool *)(void *)slot = true;
		else {
			*error_r = "expected reject or quarantine";
			return -1;
		}
		return 0;
	case KEY_BOOL: {
		bool b;

		if (parse_bool(value, &b) < 0) {
			*error_r = "expected yes or no";
			return -1;
		}
		*(bool *)(void *)slot = b;
		return 0;
	}
	case KEY_DURATION_MS:
		/* Plain numbers are milliseconds; "2s" is two seconds. */
		if (value[0] != '\0' && value[strlen(value) - 1] == 's' &&
		    (strlen(value) < 2 || value[strlen(value) - 2] != 'm')) {
			if (parse_duration(value, (k->min + 999) / 1000,
			    k->max / 1000, &v, error_r) < 0)
				return -1;
			v *= 1000;
		} else {
			char num[32];
			size_t l = strlen(value);

			if (l >= 2 && strcmp(value + l - 2, "ms") == 0)
				l -= 2;
			if (l == 0 || l >= sizeof(num)) {
				*error_r = "bad duration";
				return -1;
			}
			memcpy(num, value, l);
			num[l] = '\0';
			if (parse_u64(num, k->min, k->max, &v, error_r) < 0)
				return -1;
		}
		break;
	}
	if (k->size == sizeof(uint64_t))
		*(uint64_t *)(void *)slot = v;
	else
		*(unsigned *)(void *)slot = (unsigned)v;
	return 0;
}

/* The line reader for ini_parse_stream(); counts lines for messages.
 * libinih would parse the rest of an overlong line as a new line, so
 * such a line is an error here. */
static char *
config_read_line(char *str, int num, void *stream)
{
	struct load_ctx *ctx = stream;
	char *line;
	size_t len;

	ctx->lineno++;
	line = fgets(str, num, ctx->fp);
	if (line != NULL && (len = strlen(line)) > 0 &&
	    line[len - 1] != '\n' && !feof(ctx->fp)) {
		snprintf(ctx->err, ctx->errlen, "%s:%d: line too long "
		    "(max %d octets)", ctx->path, ctx->lineno, num - 2);
		ctx->failed = 1;
		return NULL;
	}
	return line;
}

static int
config_ini_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct load_ctx *ctx = user;
	const int lineno = ctx->lineno;
	const char *error = NULL;
	bool known_section = false;
	size_t i;

	if (ctx->failed)
		return 0;
	{
		bool handled;

		if (set_map_key(ctx->cfg, section, name, value, &handled,
		    &error) < 0) {
			snprintf(ctx->err, ctx->errlen,
			    "%s:%d: [%s] %s = %s: %s", ctx->path, lineno,
			    section, name, value, error);
			ctx->failed = 1;
			return 0;
		}
		if (handled)
			return 1;
	}
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(keys[i].section, section) != 0)
			continue;
		known_section = true;
		if (strcmp(keys[i].name, name) != 0)
			continue;
		if (set_key(ctx->cfg, &keys[i], value, &error) < 0) {
			snprintf(ctx->err, ctx->errlen,
			    "%s:%d: [%s] %s = %s: %s", ctx->path, lineno,
			    section, name, value, error);
			ctx->failed = 1;
			return 0;
		}
		return 1;
	}
	if (!known_section)
		snprintf(ctx->err, ctx->errlen, "%s:%d: unknown section [%s]",
		    ctx->path, lineno, section);
	else
		snprintf(ctx->err, ctx->errlen,
		    "%s:%d: unknown key '%s' in [%s]", ctx->path, lineno,
		    name, section);
	ctx->failed = 1;
	return 0;
}

int
config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	struct load_ctx ctx = { cfg, err, errlen, path, 0, NULL, 0 };
	int r;

	if ((ctx.fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: cannot open file", path);
		return -1;
	}
	r = ini_parse_stream(config_read_line, &ctx, config_ini_handler,
	    &ctx);
	fclose(ctx.fp);
	if (ctx.failed)
		return -1;
	if (r != 0) {
		snprintf(err, errlen, "%s:%d: syntax error", path, r);
		return -1;
	}
	if (cfg->data_dir[0] != '/') {
		snprintf(err, errlen, "%s: [server] data_dir must be an "
		    "absolute path", path);
		return -1;
	}
	if ((cfg->tls_cert[0] == '\0') != (cfg->tls_key[0] == '\0')) {
		snprintf(err, errlen, "%s: [tls] cert and key must be set "
		    "together", path);
		return -1;
	}
	if (cfg->ban_time > cfg->ban_max) {
		snprintf(err, errlen, "%s: [dynamic] ban_time exceeds ban_max",
		    path);
		return -1;
	}
	if (cfg->retry_min > cfg->retry_max) {
		snprintf(err, errlen, "%s: [queue] retry_min exceeds retry_max",
		    path);
		return -1;
	}
	return 0;
}
