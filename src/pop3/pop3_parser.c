/* pop3_parser: POP3 command lines into keyword and arguments. */
#include "pop3_parser.h"

#include <stdbool.h>
#include <string.h>

#include "util.h"

static const char *const cmd_names[POP3_CMD_COUNT] = {
	"?", "USER", "PASS", "APOP", "AUTH", "STLS", "CAPA", "QUIT", "STAT",
	"LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL",
};

const char *
pop3_cmd_name(enum pop3_cmd cmd)
{
	return (unsigned)cmd < POP3_CMD_COUNT ? cmd_names[cmd] : "?";
}

void
pop3_parse_command(const char *line, size_t len, struct pop3_command *cmd_r)
{
	size_t i, klen;
	int c;

	cmd_r->cmd = POP3_CMD_UNKNOWN;
	cmd_r->args = "";
	cmd_r->argslen = 0;
	if (memchr(line, '\0', len) != NULL)
		return;
	for (klen = 0; klen < len && line[klen] != ' '; klen++) {
		unsigned char ch = (unsigned char)line[klen];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')))
			return;
	}
	if (klen < 3 || klen > 4)
		return;
	for (c = 1; c < POP3_CMD_COUNT; c++) {
		if (strlen(cmd_names[c]) == klen &&
		    ascii_nieq(line, cmd_names[c], klen))
			break;
	}
	if (c == POP3_CMD_COUNT)
		return;
	cmd_r->cmd = (enum pop3_cmd)c;
	if (klen < len) {
		/* UNSAFE: klen < len, and line[klen] is the SP. */
		i = klen + 1;
		cmd_r->args = line + i;
		cmd_r->argslen = len - i;
	}
}

int
pop3_parse_numbers(const char *args, size_t len, int min, int max,
    uint32_t vals[POP3_ARGS_MAX])
{
	size_t i = 0;
	int n = 0;

	if (max > POP3_ARGS_MAX)
		max = POP3_ARGS_MAX;
	while (i < len) {
		uint64_t v = 0;
		size_t start = i;

		if (n == max)
			return -1;
		while (i < len && args[i] >= '0' && args[i] <= '9') {
			v = v * 10 + (uint64_t)(args[i] - '0');
			if (v > UINT32_MAX || i - start >= POP3_ARG_MAX)
				return -1;
			i++;
		}
		if (i == start)
			return -1;		/* empty or not a digit */
		vals[n++] = (uint32_t)v;
		if (i < len) {
			if (args[i] != ' ' || i + 1 == len)
				return -1;	/* one SP between, none after */
			i++;
		}
	}
	return n < min ? -1 : n;
}
