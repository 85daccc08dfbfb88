#!/bin/sh
# Creates the demo data under VAR (once): a config on unprivileged loopback
# ports, the domain example.test and the account demo@example.test, then
# prints how to send and read a test mail. Used by "make run".
set -eu
var=$1
password=$2
conf=$var/moatd.conf
ctl=build/moatctl

mkdir -p "$var"
chmod 755 "$var"
if [ ! -f "$conf" ]; then
	cat >"$conf" <<CONF
# Demo configuration written by "make run". Every key is in README.md.
[server]
hostname = mail.example.test
data_dir = $var/data
log_level = info

[listen]
smtp = 127.0.0.1:2525
submission = 127.0.0.1:2587
submissions = 127.0.0.1:2465
imap = 127.0.0.1:2143
imaps = 127.0.0.1:2993
pop3 = 127.0.0.1:2110
pop3s = 127.0.0.1:2995

[tls]
# empty: a self-signed certificate is made under data_dir/tls

[auth]
# Demo only: allow logins without TLS from this machine.
cleartext_loopback = yes

[limits]
message_size = 25M

[queue]
retry_min = 10s
CONF
fi
if ! $ctl -c "$conf" domain list | grep -q '^example.test'; then
	$ctl -c "$conf" domain add example.test
fi
if ! $ctl -c "$conf" account list example.test | grep -q '^demo@'; then
	printf '%s\n' "$password" |
	    $ctl -c "$conf" account add demo@example.test >/dev/null
	$ctl -c "$conf" alias add postmaster@example.test demo@example.test
fi
cat <<EOT

  moat demo: domain example.test, account demo@example.test (password: $password)
  config $conf, data $var/data, mail in
  $var/data/mail/example.test/demo/Maildir/new/

  Send a test mail from another terminal:
    swaks --server 127.0.0.1:2525 --to demo@example.test --from you@example.org
    swaks --server 127.0.0.1:2587 --to demo@example.test -tls      # STARTTLS
    swaks --server 127.0.0.1:2465 --to demo@example.test --tlsc    # implicit TLS
  or with Python:
    /usr/bin/python3 -c 'import smtplib; s = smtplib.SMTP("127.0.0.1", 2525); s.sendmail("you@example.org", ["demo@example.test"], "Subject: hi\r\n\r\nhello\r\n")'
  Read it:
    ls $var/data/mail/example.test/demo/Maildir/new/
    /usr/bin/python3 -c 'import imaplib; i = imaplib.IMAP4("127.0.0.1", 2143); i.login("demo@example.test", "$password"); i.select(); print(i.fetch("1:*", "(BODY[HEADER.FIELDS (SUBJECT)])"))'
    (IMAP 2143 / 2993 TLS, POP3 2110 / 2995 TLS, user demo@example.test)
  Administer: build/moatctl -c $conf --help      Stop: Ctrl-C

EOT
