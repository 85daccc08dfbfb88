/* moatctl: the admin command. Parses the command line, loads the config,
 * drops privileges, and runs domain, account and alias commands against
 * the store; "queue ..." is handed to moatctl_queue.c.
 *
 * SECURITY: run by the administrator, often as root. As root it drops to
 * the [server] user before it touches data_dir (creating data_dir first if
 * it is missing), so every file it makes belongs to that user. It trusts
 * its arguments (they come from the admin) but still validates addresses
 * before storing them (store_sql.c). Passwords are read from stdin, never
 * from argv (visible to other users), without echo on a terminal, and are
 * wiped after hashing (a yescrypt hash and a SCRAM-SHA-256 credential). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "auth/scram.h"
#include "config.h"
#include "log.h"
#include "maildir.h"
#include "moatctl_dkim.h"
#include "moatctl_dmarc.h"
#include "moatctl_screen.h"
#include "moatctl_ban.h"
#include "moatctl_freeze.h"
#include "moatctl_spam.h"
#include "moatctl_av.h"
#include "moatctl_archive.h"
#include "moatctl_list.h"
#include "moatctl_outbreak.h"
#include "moatctl_quarantine.h"
#include "moatctl_log.h"
#include "moatctl_queue.h"
#include "moatctl_spf.h"
#include "passwd.h"
#include "proc.h"
#include "store.h"
#include "util.h"

#define MOATCTL_DEFAULT_CONFIG	"/etc/moat/moatd.conf"
#define MOATCTL_PASSWORD_MAX	512	/* bytes incl. NUL */
#define MOATCTL_ADDR_MAX	512

#define EXIT_USAGE 2

struct ctl {
	struct config	 cfg;
	struct store	*st;
};

struct ctl_cmd {
	const char	*group;
	const char	*name;
	int		 min_args;
	int		 max_args;	/* -1: no limit */
	const char	*args;
	const char	*help;
	int		(*run)(struct ctl *, int, char **);
};

static int cmd_domain_add(struct ctl *, int, char **);
static int cmd_domain_del(struct ctl *, int, char **);
static int cmd_domain_list(struct ctl *, int, char **);
static int cmd_account_add(struct ctl *, int, char **);
static int cmd_account_del(struct ctl *, int, char **);
static int cmd_account_list(struct ctl *, int, char **);
static int cmd_account_passwd(struct ctl *, int, char **);
static int cmd_account_set(struct ctl *, int, char **);
static int cmd_account_show(struct ctl *, int, char **);
static int cmd_account_freeze(struct ctl *, int, char **);
static int cmd_account_unfreeze(struct ctl *, int, char **);
static int cmd_alias_add(struct ctl *, int, char **);
static int cmd_alias_del(struct ctl *, int, char **);
static int cmd_alias_list(struct ctl *, int, char **);

static const struct ctl_cmd ctl_cmds[] = {
	{ "domain", "add", 1, 1, "DOMAIN",
	    "add a local domain", cmd_domain_add },
	{ "domain", "del", 1, 1, "DOMAIN",
	    "delete a domain (it must have no accounts or aliases)",
	    cmd_domain_del },
	{ "domain", "list", 0, 0, "",
	    "list domains: name, accounts, aliases, created",
	    cmd_domain_list },
	{ "account", "add", 1, 1, "ADDRESS",
	    "add an account and its Maildir; password on stdin",
	    cmd_account_add },
	{ "account", "del", 1, 1, "ADDRESS",
	    "delete an account (its Maildir is kept)", cmd_account_del },
	{ "account", "list", 0, 1, "[DOMAIN | --frozen]",
	    "list accounts: address, created; --frozen: the frozen ones "
	    "(address, since, reason)", cmd_account_list },
	{ "account", "freeze", 1, 2, "ADDRESS [REASON]",
	    "freeze an account as hijacked: it cannot send, its queued "
	    "mail is held", cmd_account_freeze },
	{ "account", "unfreeze", 1, 2, "ADDRESS [--release]",
	    "lift a freeze; --release also sends its held messages",
	    cmd_account_unfreeze },
	{ "account", "passwd", 1, 1, "ADDRESS",
	    "set an account's password; password on stdin",
	    cmd_account_passwd },
	{ "account", "show", 1, 1, "ADDRESS",
	    "show an account and its settings", cmd_account_show },
	{ "account", "set", 2, -1, "ADDRESS KEY=on|off...",
	    "turn services on or off for an account; keys: smtp imap "
	    "pop3 webmail relay", cmd_account_set },
	{ "alias", "add", 2, -1, "ADDRESS TARGET [TARGET...]",
	    "add targets to an alias; ADDRESS @DOMAIN is a catch-all",
	    cmd_alias_add },
	{ "alias", "del", 1, 2, "ADDRESS [TARGET]",
	    "delete one target of an alias, or the whole alias",
	    cmd_alias_del },
	{ "alias", "list", 0, 1, "[DOMAIN]",
	    "list aliases: address, target", cmd_alias_list },
};
#define NCMDS (sizeof(ctl_cmds) / sizeof(ctl_cmds[0]))

static void
usage(FILE *fp)
{
	char synopsis[80];
	size_t i;

	fprintf(fp, "usage: moatctl [-c FILE] COMMAND [ARGS...]\n"
	    "\n"
	    "  -c FILE   configuration file (default %s)\n"
	    "  -h, --help\n"
	    "\n"
	    "commands:\n", MOATCTL_DEFAULT_CONFIG);
	for (i = 0; i < NCMDS; i++) {
		/* Truncation would only misalign the help text. */
		(void)snprintf(synopsis, sizeof(synopsis), "%s %s %s",
		    ctl_cmds[i].group, ctl_cmds[i].name, ctl_cmds[i].args);
		fprintf(fp, "  %-38s %s\n", synopsis, ctl_cmds[i].help);
	}
	fprintf(fp, "  %-38s %s\n", "queue ...",
	    "queue commands (moatctl queue help)");
	fputs("\nPasswords are read from standard input (one line); on a "
	    "terminal moatctl\nprompts twice without echo; they are stored "
	    "as a yescrypt hash and a\nSCRAM-SHA-256 credential. Lists print "
	    "one record per line, tab-separated.\nAccount settings default "
	    "to on; e.g. moatctl account set a@example.org pop3=off\n"
	    "quota=SIZE (500M, 2G; none) limits what the account's Maildir "
	    "may hold.\n", fp);
}

static const struct ctl_cmd *
find_cmd(const char *group, const char *name)
{
	size_t i;

	for (i = 0; i < NCMDS; i++)
		if (strcmp(ctl_cmds[i].group, group) == 0 &&
		    strcmp(ctl_cmds[i].name, name) == 0)
			return &ctl_cmds[i];
	return NULL;
}

static void
print_row(void *ctx, const char *const *cols, int ncols)
{
	int i;

	(void)ctx;
	for (i = 0; i < ncols; i++)
		printf("%s%c", cols[i], i + 1 < ncols ? '\t' : '\n');
}

/* Report a failed store call. Always returns 1 (the exit status). */
static int
fail(const char *what, const char *err)
{
	fprintf(stderr, "moatctl: %s: %s\n", what, err);
	return 1;
}

/*
 * Passwords
 */

static struct termios saved_tio;
static volatile sig_atomic_t echo_off;

static void
restore_echo_signal(int sig)
{
	if (echo_off)
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Read one line from fd with read(2) (no stdio buffer keeps a copy).
 * Returns its length without the newline, or -1 with *error_r. */
static ssize_t
read_line(int fd, char *buf, size_t size, const char **error_r)
{
	size_t len = 0;
	ssize_t n;
	char c;

	for (;;) {
		n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = strerror(errno);
			return -1;
		}
		if (n == 0 || c == '\n')
			break;
		if (len + 1 >= size) {
			*error_r = "password too long";
			return -1;
		}
		buf[len++] = c;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

static ssize_t
prompt_line(const char *prompt, char *buf, size_t size,
    const char **error_r)
{
	struct termios tio;
	struct sigaction sa;
	ssize_t n;

	if (tcgetattr(STDIN_FILENO, &saved_tio) < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = restore_echo_signal;
	if (sigemptyset(&sa.sa_mask) < 0 ||
	    sigaction(SIGINT, &sa, NULL) < 0 ||
	    sigaction(SIGTERM, &sa, NULL) < 0 ||
	    sigaction(SIGTSTP, &sa, NULL) < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	tio = saved_tio;
	tio.c_lflag &= ~(tcflag_t)ECHO;
	tio.c_lflag |= ECHONL;
	fputs(prompt, stderr);
	fflush(stderr);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &tio) < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	echo_off = 1;
	n = read_line(STDIN_FILENO, buf, size, error_r);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio) < 0 && n >= 0) {
		*error_r = strerror(errno);
		n = -1;
	}
	echo_off = 0;
	return n;
}

/* Read the new password and hash it into hash and scram (a SCRAM-SHA-256
 * credential). Returns 0, or 1 after printing the reason. */
static int
get_password_hash(const struct config *cfg, char *hash, size_t hashlen,
    char *scram, size_t scramlen)
{
	char pw[MOATCTL_PASSWORD_MAX], again[MOATCTL_PASSWORD_MAX];
	const char *err = NULL;
	ssize_t n;
	int ret = 1;

	if (isatty(STDIN_FILENO)) {
		n = prompt_line("Password: ", pw, sizeof(pw), &err);
		if (n > 0 && prompt_line("Password again: ", again,
		    sizeof(again), &err) >= 0 && strcmp(pw, again) != 0) {
			err = "passwords do not match";
			n = -1;
		}
	} else
		n = read_line(STDIN_FILENO, pw, sizeof(pw), &err);
	if (n == 0)
		err = "empty password refused";
	if (n > 0 && err == NULL) {
		if (passwd_hash(pw, hash, hashlen) == 0 &&
		    scram_derive(pw, cfg->scram_iterations, scram,
		    scramlen) == 0)
			ret = 0;
		else
			err = "password hashing failed";
	}
	if (ret != 0)
		fprintf(stderr, "moatctl: %s\n", err != NULL ? err :
		    "cannot read password");
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(again, sizeof(again));
	return ret;
}

/*
 * Commands
 */

static int
cmd_domain_add(struct ctl *c, int argc, char **argv)
{
	const char *err;

	(void)argc;
	if (store_domain_add(c->st, argv[0], &err) < 0)
		return fail("domain add", err);
	return 0;
}

static int
cmd_domain_del(struct ctl *c, int argc, char **argv)
{
	const char *err;

	(void)argc;
	if (store_domain_del(c->st, argv[0], &err) < 0)
		return fail("domain del", err);
	return 0;
}

static int
cmd_domain_list(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (store_domain_list(c->st, print_row, NULL) < 0)
		return fail("domain list", "database error");
	return 0;
}

/* Split a stored address into lower-case local and domain. */
static int
split_addr(const char *addr, char *buf, size_t size, const char **local_r,
    const char **domain_r)
{
	char *at;

	if (moat_strlcpy(buf, addr, size) >= size)
		return -1;
	ascii_lower(buf);
	at = strrchr(buf, '@');
	if (at == NULL || at == buf)
		return -1;
	*at = '\0';
	*local_r = buf;
	*domain_r = at + 1;
	return 0;
}

static int
account_maildir(const struct ctl *c, const char *addr, char *path,
    size_t pathlen)
{
	char buf[MOATCTL_ADDR_MAX];
	const char *local, *domain;

	if (split_addr(addr, buf, sizeof(buf), &local, &domain) < 0)
		return -1;
	return maildir_path(c->cfg.data_dir, domain, local, path, pathlen);
}

/* Refuse an address outside our domains before asking for a password. */
static int
check_local_domain(struct ctl *c, const char *addr)
{
	char buf[MOATCTL_ADDR_MAX];
	const char *local, *domain;
	enum store_rcpt_result r;

	if (split_addr(addr, buf, sizeof(buf), &local, &domain) < 0)
		return 0;	/* the store explains what is wrong */
	if (store_rcpt_check(c->st, local, domain, &r) < 0)
		return fail("account add", "database error");
	if (r == STORE_RCPT_NOT_LOCAL) {
		fprintf(stderr, "moatctl: account add: no such domain %s; add "
		    "it with: moatctl domain add %s\n", domain, domain);
		return 1;
	}
	return 0;
}

static int
cmd_account_add(struct ctl *c, int argc, char **argv)
{
	char hash[PASSWD_HASH_MAX], path[CONFIG_PATH_MAX + 600];
	char scram[SCRAM_CRED_MAX];
	const char *err;
	int save;

	(void)argc;
	/* Ask for a password only when the account can be added. */
	if (store_account_hash(c->st, argv[0], hash, sizeof(hash), &err) ==
	    0) {
		explicit_bzero(hash, sizeof(hash));
		return fail("account add", "account exists");
	}
	if (account_maildir(c, argv[0], path, sizeof(path)) < 0)
		return fail("account add", "invalid address (expected "
		    "local@domain)");
	if (check_local_domain(c, argv[0]) != 0 ||
	    moatctl_list_refuse_address(c->st, "account add", argv[0]) != 0)
		return 1;
	if (get_password_hash(&c->cfg, hash, sizeof(hash), scram,
	    sizeof(scram)) != 0)
		return 1;
	if (store_account_add(c->st, argv[0], hash, scram, &err) < 0) {
		explicit_bzero(hash, sizeof(hash));
		explicit_bzero(scram, sizeof(scram));
		return fail("account add", err);
	}
	explicit_bzero(hash, sizeof(hash));
	explicit_bzero(scram, sizeof(scram));
	if (maildir_create(path) < 0) {
		save = errno;
		fprintf(stderr, "moatctl: account add: cannot create %s: %s; "
		    "account not added\n", path, strerror(save));
		if (store_account_del(c->st, argv[0], &err) < 0)
			return fail("account add: undo", err);
		return 1;
	}
	return 0;
}

static int
cmd_account_del(struct ctl *c, int argc, char **argv)
{
	char path[CONFIG_PATH_MAX + 600];
	const char *err;

	(void)argc;
	if (store_account_del(c->st, argv[0], &err) < 0)
		return fail("account del", err);
	if (account_maildir(c, argv[0], path, sizeof(path)) == 0)
		printf("mail is kept in %s\n", path);
	return 0;
}

static int
cmd_account_freeze(struct ctl *c, int argc, char **argv)
{
	return moatctl_account_freeze(&c->cfg, c->st, argc, argv);
}

static int
cmd_account_unfreeze(struct ctl *c, int argc, char **argv)
{
	return moatctl_account_unfreeze(&c->cfg, c->st, argc, argv);
}

static int
cmd_account_list(struct ctl *c, int argc, char **argv)
{
	if (argc > 0 && strcmp(argv[0], "--frozen") == 0)
		return moatctl_account_frozen_list(c->st);
	if (store_account_list(c->st, argc > 0 ? argv[0] : NULL, print_row,
	    NULL) < 0)
		return fail("account list", "database error");
	return 0;
}

static int
cmd_account_passwd(struct ctl *c, int argc, char **argv)
{
	char hash[PASSWD_HASH_MAX], scram[SCRAM_CRED_MAX];
	const char *err;
	int ret = 0;

	(void)argc;
	if (store_account_hash(c->st, argv[0], hash, sizeof(hash), &err) < 0)
		return fail("account passwd", err);
	explicit_bzero(hash, sizeof(hash));
	if (get_password_hash(&c->cfg, hash, sizeof(hash), scram,
	    sizeof(scram)) != 0)
		return 1;
	if (store_account_passwd(c->st, argv[0], hash, scram, &err) < 0)
		ret = fail("account passwd", err);
	explicit_bzero(hash, sizeof(hash));
	explicit_bzero(scram, sizeof(scram));
	return ret;
}

static int
cmd_account_show(struct ctl *c, int argc, char **argv)
{
	const char *err;

	(void)argc;
	if (store_account_show(c->st, argv[0], print_row, NULL, &err) < 0)
		return fail("account show", err);
	return 0;
}

/* account set ADDRESS key=on|off|quota=SIZE...: every pair is checked
 * before any is stored. */
static int
cmd_account_set(struct ctl *c, int argc, char **argv)
{
	char key[32];
	const char *eq, *err;
	size_t klen;
	int i;

	for (i = 1; i < argc; i++) {
		eq = strchr(argv[i], '=');
		klen = eq != NULL ? (size_t)(eq - argv[i]) : 0;
		if (eq == NULL || klen >= sizeof(key)) {
			fprintf(stderr, "moatctl: account set: expected "
			    "KEY=on|off, got '%.64s'\n", argv[i]);
			return EXIT_USAGE;
		}
		memcpy(key, argv[i], klen);
		key[klen] = '\0';
		if (!store_setting_valid(key, eq + 1)) {
			fprintf(stderr, "moatctl: account set: invalid "
			    "setting '%.64s' (keys: smtp imap pop3 webmail "
			    "relay; values: on off; quota=SIZE|none)\n",
			    argv[i]);
			return EXIT_USAGE;
		}
	}
	for (i = 1; i < argc; i++) {
		eq = strchr(argv[i], '=');
		klen = (size_t)(eq - argv[i]);	/* checked above */
		memcpy(key, argv[i], klen);
		key[klen] = '\0';
		if (store_account_set(c->st, argv[0], key, eq + 1, &err) < 0)
			return fail("account set", err);
	}
	return 0;
}

/* A local target nobody receives is allowed (it may be added next) but
 * worth a warning. */
static void
warn_unknown_target(struct ctl *c, const char *target)
{
	char buf[MOATCTL_ADDR_MAX];
	const char *local, *domain;
	enum store_rcpt_result r;

	if (split_addr(target, buf, sizeof(buf), &local, &domain) == 0 &&
	    store_rcpt_check(c->st, local, domain, &r) == 0 &&
	    r == STORE_RCPT_NO_SUCH_USER)
		fprintf(stderr, "moatctl: warning: %s@%s is not an account "
		    "or alias (yet)\n", local, domain);
}

static int
cmd_alias_add(struct ctl *c, int argc, char **argv)
{
	const char *err;
	int i;

	if (moatctl_list_refuse_address(c->st, "alias add", argv[0]) != 0)
		return 1;
	for (i = 1; i < argc; i++) {
		if (store_alias_add(c->st, argv[0], argv[i], &err) < 0)
			return fail("alias add", err);
		warn_unknown_target(c, argv[i]);
	}
	return 0;
}

static int
cmd_alias_del(struct ctl *c, int argc, char **argv)
{
	const char *err;

	if (store_alias_del(c->st, argv[0], argc > 1 ? argv[1] : NULL,
	    &err) < 0)
		return fail("alias del", err);
	return 0;
}

static int
cmd_alias_list(struct ctl *c, int argc, char **argv)
{
	if (store_alias_list(c->st, argc > 0 ? argv[0] : NULL, print_row,
	    NULL) < 0)
		return fail("alias list", "database error");
	return 0;
}

/*
 * Start-up
 */

/* Become the [server] user, creating data_dir for it first if needed.
 * Returns 0, or 1 after printing the reason. */
static int
become_user(const struct config *cfg)
{
	struct proc_user pu;
	struct stat sb;
	char err[512];

	if (proc_user_lookup(cfg->user, &pu, err, sizeof(err)) < 0) {
		fprintf(stderr, "moatctl: %s\n", err);
		return 1;
	}
	if (stat(cfg->data_dir, &sb) < 0) {
		if (errno != ENOENT) {
			fprintf(stderr, "moatctl: %s: %s\n", cfg->data_dir,
			    strerror(errno));
			return 1;
		}
		if (proc_mkdir_owned(cfg->data_dir, &pu) < 0) {
			fprintf(stderr, "moatctl: cannot create %s: %s\n",
			    cfg->data_dir, strerror(errno));
			return 1;
		}
	} else if (!S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "moatctl: %s: not a directory\n",
		    cfg->data_dir);
		return 1;
	}
	proc_drop(&pu);		/* fatal on failure */
	return 0;
}

/* Command groups with their own argument handling, in their own files
 * (moatctl_<group>.c): they get the loaded config and argv from the
 * group name on, and return the exit code. */
struct ctl_subprogram {
	const char	*group;
	int		(*run)(const struct config *, int, char **);
};

static const struct ctl_subprogram ctl_subprograms[] = {
	{ "queue", moatctl_queue },
	{ "log", moatctl_log },
	{ "spf", moatctl_spf },
	{ "dkim", moatctl_dkim },
	{ "dmarc", moatctl_dmarc },
	{ "screen", moatctl_screen },
	{ "ban", moatctl_ban },
	{ "spam", moatctl_spam },
	{ "av", moatctl_av },
	{ "archive", moatctl_archive },
	{ "quarantine", moatctl_quarantine },
	{ "list", moatctl_list },
	{ "outbreak", moatctl_outbreak },
};

static const struct ctl_subprogram *
find_subprogram(const char *group)
{
	size_t i;

	for (i = 0; i < sizeof(ctl_subprograms) / sizeof(ctl_subprograms[0]);
	    i++)
		if (strcmp(ctl_subprograms[i].group, group) == 0)
			return &ctl_subprograms[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf = MOATCTL_DEFAULT_CONFIG, *err;
	const struct ctl_cmd *cmd = NULL;
	const struct ctl_subprogram *sub;
	struct ctl c;
	char errbuf[1024];
	int ch, nargs, ret;

	umask(077);
	log_init("moatctl", LOG_LEVEL_WARN);
	/* '+': stop at the command, its arguments are its own. */
	while ((ch = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[0], "help") == 0) {
		usage(stdout);
		return 0;
	}
	sub = find_subprogram(argv[0]);
	if (sub == NULL) {
		if (argc < 2 || (cmd = find_cmd(argv[0], argv[1])) == NULL) {
			fprintf(stderr, "moatctl: unknown command: %s%s%s\n",
			    argv[0], argc > 1 ? " " : "",
			    argc > 1 ? argv[1] : "");
			usage(stderr);
			return EXIT_USAGE;
		}
		nargs = argc - 2;
		if (nargs < cmd->min_args ||
		    (cmd->max_args >= 0 && nargs > cmd->max_args)) {
			fprintf(stderr, "usage: moatctl %s %s %s\n",
			    cmd->group, cmd->name, cmd->args);
			return EXIT_USAGE;
		}
	}

	memset(&c, 0, sizeof(c));
	config_defaults(&c.cfg);
	if (config_load(&c.cfg, conf, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "moatctl: %s\n", errbuf);
		return 1;
	}
	if (become_user(&c.cfg) != 0)
		return 1;

	if (sub != NULL) {
		/* argv[0] is the group name, like a main() argv. */
		return sub->run(&c.cfg, argc, argv);
	}
	if (store_open(c.cfg.data_dir, &c.st, &err) < 0) {
		fprintf(stderr, "moatctl: %s\n", err);
		return 1;
	}
	ret = cmd->run(&c, argc - 2, argv + 2);
	store_close(&c.st);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "moatctl: write error: %s\n", strerror(errno));
		return 1;
	}
	return ret;
}
