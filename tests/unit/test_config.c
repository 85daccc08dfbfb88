/* test_config: moatd.conf loading and validation (src/core/config.c),
 * through config_load() on temporary files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"
#include "util.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define ERR_LEN 512
#define MIB (UINT64_C(1024) * 1024)

/* Write text to a new temporary file; the caller unlinks path. */
static void
write_temp(const char *text, char *path, size_t pathlen)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(path, pathlen, "%s/moat-test-config-XXXXXX",
	    dir != NULL && dir[0] != '\0' ? dir : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, text, strlen(text)), 0);
	assert_int_equal(close(fd), 0);
}

/* Load text over the defaults; returns config_load()'s result. */
static int
load(const char *text, struct config *cfg, char *err, size_t errlen)
{
	char path[CONFIG_PATH_MAX];
	int r;

	config_defaults(cfg);
	err[0] = '\0';
	write_temp(text, path, sizeof(path));
	r = config_load(cfg, path, err, errlen);
	unlink(path);
	return r;
}

static void
test_defaults(void **state)
{
	struct config def, cfg;
	char err[ERR_LEN];
	unsigned i;

	(void)state;
	config_defaults(&def);
	assert_true(def.hostname[0] != '\0');
	assert_string_equal(def.data_dir, "/var/lib/moat");
	assert_string_equal(def.user, "moat");
	assert_true(def.workers >= 1 && def.workers <= 256);
	assert_int_equal(def.drain_timeout, 30);
	assert_int_equal(def.log_level, LOG_LEVEL_INFO);
	assert_string_equal(def.tls_cert, "");
	assert_string_equal(def.tls_key, "");
	assert_true(def.tls_ciphers[0] != '\0');
	assert_int_equal(def.message_size, 50 * MIB);
	assert_int_equal(def.line_length, 1000);	/* RFC 5321 */
	assert_int_equal(def.idle_timeout, 300);
	assert_true(def.retry_min <= def.retry_max);
	for (i = 0; i < SERVICE_COUNT; i++)
		assert_int_equal(def.nlisten[i], 0);

	/* An empty file and a comments-only file keep every default. */
	assert_int_equal(load("", &cfg, err, sizeof(err)), 0);
	assert_memory_equal(&cfg, &def, sizeof(cfg));
	assert_int_equal(load("; comment\n# another\n\n[server]\n", &cfg,
	    err, sizeof(err)), 0);
	assert_memory_equal(&cfg, &def, sizeof(cfg));
}

static void
test_every_key_type(void **state)
{
	static const char text[] =
	    "[server]\n"
	    "hostname = mx1.example.org\n"		/* KEY_HOSTNAME */
	    "data_dir = /srv/moat\n"			/* KEY_STR */
	    "user = mail\n"
	    "workers = 4\n"				/* KEY_UINT */
	    "drain_timeout = 2m\n"			/* KEY_DURATION */
	    "log_level = debug\n"			/* KEY_LOGLEVEL */
	    "[listen]\n"
	    "smtp = 127.0.0.1:2525\n"			/* KEY_LISTEN */
	    "submissions = [::1]:465\n"
	    "[tls]\n"
	    "cert = /etc/moat/cert.pem\n"
	    "key = /etc/moat/key.pem\n"
	    "ciphers = ECDHE-RSA-AES128-GCM-SHA256\n"
	    "[limits]\n"
	    "message_size = 10M\n"			/* KEY_SIZE, 64 bit */
	    "line_length = 2k\n"			/* KEY_SIZE, unsigned */
	    "recipients = 50\n"
	    "commands = 100\n"
	    "errors = 3\n"
	    "messages = 20\n"
	    "sessions = 100\n"
	    "idle_timeout = 1h\n"
	    "busy_timeout = 10s\n"
	    "busy_sessions = 80\n"
	    "[queue]\n"
	    "retry_min = 5m\n"
	    "retry_max = 2d\n"
	    "delivery_threads = 2\n";
	struct config cfg;
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(load(text, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.hostname, "mx1.example.org");
	assert_string_equal(cfg.data_dir, "/srv/moat");
	assert_string_equal(cfg.user, "mail");
	assert_int_equal(cfg.workers, 4);
	assert_int_equal(cfg.drain_timeout, 120);
	assert_int_equal(cfg.log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(cfg.nlisten[SERVICE_SMTP], 1);
	assert_string_equal(cfg.listen[SERVICE_SMTP][0].host, "127.0.0.1");
	assert_int_equal(cfg.listen[SERVICE_SMTP][0].port, 2525);
	assert_int_equal(cfg.nlisten[SERVICE_SUBMISSIONS], 1);
	assert_string_equal(cfg.listen[SERVICE_SUBMISSIONS][0].host, "::1");
	assert_int_equal(cfg.listen[SERVICE_SUBMISSIONS][0].port, 465);
	assert_int_equal(cfg.nlisten[SERVICE_IMAP], 0);
	assert_string_equal(cfg.tls_cert, "/etc/moat/cert.pem");
	assert_string_equal(cfg.tls_key, "/etc/moat/key.pem");
	assert_string_equal(cfg.tls_ciphers, "ECDHE-RSA-AES128-GCM-SHA256");
	assert_int_equal(cfg.message_size, 10 * MIB);
	assert_int_equal(cfg.line_length, 2048);
	assert_int_equal(cfg.recipients, 50);
	assert_int_equal(cfg.commands, 100);
	assert_int_equal(cfg.errors, 3);
	assert_int_equal(cfg.messages, 20);
	assert_int_equal(cfg.sessions, 100);
	assert_int_equal(cfg.idle_timeout, 3600);
	assert_int_equal(cfg.busy_timeout, 10);
	assert_int_equal(cfg.busy_sessions, 80);
	assert_int_equal(cfg.retry_min, 300);
	assert_int_equal(cfg.retry_max, 172800);
	assert_int_equal(cfg.delivery_threads, 2);
}

/* Range ends are inclusive; the largest message_size needs 64 bits. */
static void
test_range_ends(void **state)
{
	struct config cfg;
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(load("[server]\nworkers = 1\n[limits]\n"
	    "message_size = 2G\nline_length = 1000\nidle_timeout = 1\n",
	    &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.workers, 1);
	assert_int_equal(cfg.message_size, UINT64_C(2) << 30);
	assert_int_equal(cfg.line_length, 1000);
	assert_int_equal(cfg.idle_timeout, 1);
	assert_int_equal(load("[server]\nworkers = 256\ndrain_timeout = 1h\n"
	    "[limits]\nmessage_size = 1k\nline_length = 1m\n", &cfg, err,
	    sizeof(err)), 0);
	assert_int_equal(cfg.workers, 256);
	assert_int_equal(cfg.drain_timeout, 3600);
	assert_int_equal(cfg.message_size, 1024);
	assert_int_equal(cfg.line_length, 1 << 20);
}

struct bad_case {
	const char	*name;
	const char	*text;
	const char	*want[3];	/* substrings of the error message */
};

static const struct bad_case bad_cases[] = {
	{ "unknown_key", "[server]\nworkers = 2\nwokers = 3\n",
	  { ":3:", "unknown key 'wokers' in [server]" } },
	{ "unknown_section", "[sever]\nworkers = 2\n",
	  { ":2:", "unknown section [sever]" } },
	{ "key_before_any_section", "workers = 2\n",
	  { ":1:", "unknown section []" } },
	{ "syntax_error", "[server]\nworkers\n", { ":2:", "syntax error" } },
	{ "workers_zero", "[server]\nworkers = 0\n",
	  { "[server] workers = 0", "number too small" } },
	{ "workers_over", "[server]\nworkers = 257\n",
	  { "number too large" } },
	{ "workers_not_number", "[server]\nworkers = four\n",
	  { "not a number" } },
	{ "workers_negative", "[server]\nworkers = -1\n",
	  { "not a number" } },
	{ "workers_overflow", "[server]\nworkers = 99999999999999999999\n",
	  { "number too large" } },
	{ "drain_over", "[server]\ndrain_timeout = 2h\n",
	  { "number too large" } },
	{ "bad_duration_suffix", "[limits]\nidle_timeout = 5w\n",
	  { "not a number" } },
	{ "idle_timeout_zero", "[limits]\nidle_timeout = 0\n",
	  { "number too small" } },
	{ "message_size_over", "[limits]\nmessage_size = 3G\n",
	  { "[limits] message_size = 3G", "number too large" } },
	{ "message_size_under", "[limits]\nmessage_size = 1023\n",
	  { "number too small" } },
	{ "line_length_under_rfc", "[limits]\nline_length = 999\n",
	  { "number too small" } },
	{ "empty_number", "[limits]\nrecipients =\n",
	  { "empty number" } },
	{ "log_level", "[server]\nlog_level = loud\n",
	  { "expected warn, info or debug" } },
	{ "hostname_bad_char", "[server]\nhostname = mx_1.example.org\n",
	  { "not a valid host name" } },
	{ "hostname_empty_label", "[server]\nhostname = mx..example.org\n",
	  { "not a valid host name" } },
	{ "hostname_empty", "[server]\nhostname =\n",
	  { "not a valid host name" } },
	{ "hostname_label_too_long", "[server]\nhostname = "
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  ".org\n", { "not a valid host name" } },
	{ "user_too_long", "[server]\nuser = "
	  "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu"
	  "\n", { "value too long" } },
	{ "data_dir_relative", "[server]\ndata_dir = var/moat\n",
	  { "data_dir must be an absolute path" } },
	{ "data_dir_empty", "[server]\ndata_dir =\n",
	  { "data_dir must be an absolute path" } },
	{ "cert_without_key", "[tls]\ncert = /etc/moat/cert.pem\n",
	  { "cert and key must be set together" } },
	{ "key_without_cert", "[tls]\nkey = /etc/moat/key.pem\n",
	  { "cert and key must be set together" } },
	{ "retry_min_over_max", "[queue]\nretry_min = 2h\nretry_max = 1h\n",
	  { "retry_min exceeds retry_max" } },
	{ "listen_hostname", "[listen]\nsmtp = localhost:25\n",
	  { "numeric IPv4 or IPv6" } },
	{ "listen_no_port", "[listen]\nsmtp = 127.0.0.1\n",
	  { "expected ADDR:PORT" } },
	{ "listen_port_zero", "[listen]\nsmtp = 127.0.0.1:0\n",
	  { "number too small" } },
	{ "listen_port_over", "[listen]\nsmtp = 127.0.0.1:65536\n",
	  { "number too large" } },
	{ "listen_port_text", "[listen]\nsmtp = 127.0.0.1:smtp\n",
	  { "not a number" } },
	{ "listen_bad_ipv4", "[listen]\nsmtp = 127.0.0.256:25\n",
	  { "numeric IPv4 or IPv6" } },
	{ "listen_ipv6_no_bracket_end", "[listen]\nsmtp = [::1:25\n",
	  { "bad [IPv6] address" } },
	{ "listen_ipv6_no_port", "[listen]\nsmtp = [::1]\n",
	  { "bad [IPv6] address" } },
	{ "listen_trailing_comma", "[listen]\nsmtp = 127.0.0.1:25,\n",
	  { "trailing comma" } },
	{ "listen_trailing_comma_space", "[listen]\nsmtp = 127.0.0.1:25, \n",
	  { "trailing comma" } },
	{ "listen_empty_item", "[listen]\nsmtp = 127.0.0.1:25,,[::1]:25\n",
	  { "empty address" } },
	{ "listen_leading_comma", "[listen]\nsmtp = ,127.0.0.1:25\n",
	  { "empty address" } },
	{ "listen_too_many", "[listen]\nsmtp = 127.0.0.1:1, 127.0.0.1:2, "
	  "127.0.0.1:3, 127.0.0.1:4, 127.0.0.1:5, 127.0.0.1:6, "
	  "127.0.0.1:7, 127.0.0.1:8, 127.0.0.1:9\n",
	  { "too many addresses" } },
	{ "listen_unknown_service", "[listen]\nsmtps = 127.0.0.1:465\n",
	  { "unknown key 'smtps' in [listen]" } },
};

static void
test_bad_config(void **state)
{
	struct config cfg;
	char err[ERR_LEN];
	size_t i, j;

	(void)state;
	for (i = 0; i < NELEM(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		int r = load(c->text, &cfg, err, sizeof(err));

		if (r != -1)
			print_error("case %s: loaded\n", c->name);
		assert_int_equal(r, -1);
		/* The message names the file. */
		assert_non_null(strstr(err, "moat-test-config-"));
		for (j = 0; j < NELEM(c->want) && c->want[j] != NULL; j++) {
			if (strstr(err, c->want[j]) == NULL)
				print_error("case %s: \"%s\" lacks \"%s\"\n",
				    c->name, err, c->want[j]);
			assert_non_null(strstr(err, c->want[j]));
		}
	}
}

static void
test_missing_file(void **state)
{
	struct config cfg;
	char err[ERR_LEN];

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(config_load(&cfg, "/nonexistent/moatd.conf", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/moatd.conf"));
	assert_non_null(strstr(err, "cannot open"));
}

/* A short err buffer truncates the message but stays terminated. */
static void
test_short_error_buffer(void **state)
{
	struct config cfg;
	char err[16];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(load("[nope]\nx = 1\n", &cfg, err, sizeof(err)), -1);
	assert_true(strlen(err) < sizeof(err));
}

/* libinih reads lines of at most INI_MAX_LINE - 1 octets incl LF; a
 * longer line is an error, not silently split in two. */
static void
test_line_length(void **state)
{
	enum { INI_LINE = 200, PREFIX = sizeof("ciphers = ") - 1 };
	char text[INI_LINE + 64], value[INI_LINE];
	struct config cfg;
	char err[ERR_LEN];
	size_t vlen;

	(void)state;
	for (vlen = INI_LINE - 2 - PREFIX - 1; vlen <= INI_LINE - PREFIX;
	    vlen++) {
		memset(value, 'A', vlen);
		value[vlen] = '\0';
		snprintf(text, sizeof(text), "[tls]\nciphers = %s\n"
		    "[server]\nworkers = 3\n", value);
		if (PREFIX + vlen <= INI_LINE - 2) {
			assert_int_equal(load(text, &cfg, err, sizeof(err)),
			    0);
			assert_int_equal(strlen(cfg.tls_ciphers), vlen);
			assert_int_equal(cfg.workers, 3);
		} else {
			assert_int_equal(load(text, &cfg, err, sizeof(err)),
			    -1);
			assert_non_null(strstr(err, ":2: line too long"));
		}
	}
	/* The last line may lack its LF. */
	assert_int_equal(load("[server]\nworkers = 5", &cfg, err,
	    sizeof(err)), 0);
	assert_int_equal(cfg.workers, 5);
}

static void
test_listen_lists(void **state)
{
	struct config cfg;
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(load("[listen]\nsmtp = 127.0.0.1:25, [::1]:25\n"
	    "imap = 0.0.0.0:143,[::]:143\t,  192.0.2.1:1143\n", &cfg, err,
	    sizeof(err)), 0);
	assert_int_equal(cfg.nlisten[SERVICE_SMTP], 2);
	assert_string_equal(cfg.listen[SERVICE_SMTP][0].host, "127.0.0.1");
	assert_int_equal(cfg.listen[SERVICE_SMTP][0].port, 25);
	assert_string_equal(cfg.listen[SERVICE_SMTP][1].host, "::1");
	assert_int_equal(cfg.listen[SERVICE_SMTP][1].port, 25);
	assert_int_equal(cfg.nlisten[SERVICE_IMAP], 3);
	assert_string_equal(cfg.listen[SERVICE_IMAP][1].host, "::");
	assert_string_equal(cfg.listen[SERVICE_IMAP][2].host, "192.0.2.1");
	assert_int_equal(cfg.listen[SERVICE_IMAP][2].port, 1143);

	/* The maximum number of addresses fits. */
	assert_int_equal(load("[listen]\npop3 = 127.0.0.1:1, 127.0.0.1:2, "
	    "127.0.0.1:3, 127.0.0.1:4, 127.0.0.1:5, 127.0.0.1:6, "
	    "127.0.0.1:7, [::1]:65535\n", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.nlisten[SERVICE_POP3], CONFIG_MAX_LISTEN);
	assert_int_equal(cfg.listen[SERVICE_POP3][7].port, 65535);

	/* An empty value turns the service off, also after a set. */
	assert_int_equal(load("[listen]\nsmtp = 127.0.0.1:25\nsmtp =\n"
	    "pop3s =\n", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.nlisten[SERVICE_SMTP], 0);
	assert_int_equal(cfg.nlisten[SERVICE_POP3S], 0);

	/* A later value replaces an earlier one. */
	assert_int_equal(load("[listen]\nsmtp = 127.0.0.1:25, [::1]:25\n"
	    "smtp = 192.0.2.7:2525\n", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.nlisten[SERVICE_SMTP], 1);
	assert_string_equal(cfg.listen[SERVICE_SMTP][0].host, "192.0.2.7");
}

static void
test_parse_listen_direct(void **state)
{
	struct listen_addr out[2];
	const char *error = NULL;
	unsigned n = 99;

	(void)state;
	assert_int_equal(config_parse_listen("", out, 2, &n, &error), 0);
	assert_int_equal(n, 0);
	assert_int_equal(config_parse_listen(" [2001:db8::1]:25 ", out, 2, &n,
	    &error), 0);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].host, "2001:db8::1");
	assert_int_equal(config_parse_listen("127.0.0.1:1,127.0.0.1:2,"
	    "127.0.0.1:3", out, 2, &n, &error), -1);
	assert_string_equal(error, "too many addresses");
	assert_int_equal(config_parse_listen("[]:25", out, 2, &n, &error),
	    -1);
}

static void
test_service_names(void **state)
{
	(void)state;
	assert_string_equal(config_service_name(SERVICE_SMTP), "smtp");
	assert_string_equal(config_service_name(SERVICE_SUBMISSIONS),
	    "submissions");
	assert_string_equal(config_service_name(SERVICE_POP3S), "pop3s");
	assert_string_equal(config_service_name(SERVICE_COUNT), "?");
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key_type),
		cmocka_unit_test(test_range_ends),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_short_error_buffer),
		cmocka_unit_test(test_line_length),
		cmocka_unit_test(test_listen_lists),
		cmocka_unit_test(test_parse_listen_direct),
		cmocka_unit_test(test_service_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
