#!/usr/bin/python3
"""dnsserver: a small authoritative DNS server for moat's tests.

Serves records from zone files on 127.0.0.1 over UDP and TCP (same port):

    /usr/bin/python3 tests/dns/dnsserver.py --port 0 --zone a.zone [--zone b.yml]

Prints "ready PORT" on stdout (and flushes) once both sockets listen, then
serves until SIGTERM/SIGINT. Needs python3-dnslib (and python3-yaml for
YAML zones). See tests/dns/README.md for the zone formats and the TIMEOUT /
SERVFAIL markers.

Answers like a recursive resolver would for these names: RA and AA set,
CNAME chains inside the data followed (loops stop after CNAME_HOPS_MAX),
NXDOMAIN only when neither the name nor any name below it exists (empty
non-terminals are NODATA), and a SOA in the authority section of negative
answers so resolvers can cache them. UDP replies larger than the client's
EDNS buffer (512 without EDNS) are sent truncated (TC) so the client
retries over TCP.
"""

import argparse
import ipaddress
import json
import os
import signal
import socket
import socketserver
import struct
import sys
import threading

from dnslib import (AAAA, CNAME, MX, NS, PTR, QTYPE, RCODE, RR, SOA, TXT,
                    A, EDNS0, DNSError, DNSHeader, DNSLabel, DNSRecord)

DEFAULT_TTL = 300
NEG_TTL = 60            # SOA minimum of synthesised SOA records
CNAME_HOPS_MAX = 8
TCP_IDLE_S = 10         # a TCP client that sends nothing is dropped
TYPE_SPF = 99
TXT_CHUNK = 255         # one character-string holds at most 255 octets

TYPES = {'A': QTYPE.A, 'AAAA': QTYPE.AAAA, 'MX': QTYPE.MX,
         'TXT': QTYPE.TXT, 'SPF': TYPE_SPF, 'CNAME': QTYPE.CNAME,
         'PTR': QTYPE.PTR, 'NS': QTYPE.NS, 'SOA': QTYPE.SOA}
MARKERS = ('TIMEOUT', 'SERVFAIL')


class ZoneError(Exception):
    pass


def name_key(name):
    """Lower-cased tuple of label bytes: the lookup key of a name."""
    return tuple(lbl.lower() for lbl in key_labels(name))


def as_bytes(s):
    if isinstance(s, bytes):
        return s
    return str(s).encode('utf-8', 'surrogateescape')


def txt_rdata(strings):
    """TXT rdata from one or more strings; long strings are split into
    255-octet character-strings (resolvers concatenate them again)."""
    if isinstance(strings, (str, bytes)):
        strings = [strings]
    out = []
    for s in strings:
        b = as_bytes(s)
        if not b:
            out.append(b'')
        while b:
            out.append(b[:TXT_CHUNK])
            b = b[TXT_CHUNK:]
    return TXT(out)


class Zone:
    """All records of all zone files: name key -> node."""

    def __init__(self):
        self.nodes = {}

    def node(self, key):
        return self.nodes.setdefault(key, {'rrs': [], 'timeout': False,
                                           'servfail': False})

    def add(self, name, rtype, value, ttl):
        key = name_key(name)
        if rtype in MARKERS:
            self.node(key)[rtype.lower()] = True
            return
        if rtype not in TYPES:
            raise ZoneError('unsupported type %r' % rtype)
        node = self.node(key)
        if value is None:       # "TYPE: NONE": the name exists, no data
            return
        rdata = make_rdata(rtype, value)
        rr = RR(DNSLabel(list(key_labels(name))), TYPES[rtype], ttl=ttl,
                rdata=rdata)
        node['rrs'].append(rr)

    def exists(self, key):
        """True when the name or a name below it is in the data."""
        if key in self.nodes:
            return True
        n = len(key)
        return any(len(k) > n and k[-n:] == key for k in self.nodes) \
            if n else bool(self.nodes)

    def soa_for(self, key):
        """A SOA RR of the closest enclosing name that has one, else a
        synthesised one at the top label of the name."""
        for i in range(len(key)):
            node = self.nodes.get(key[i:])
            if node:
                for rr in node['rrs']:
                    if rr.rtype == QTYPE.SOA:
                        return rr
        top = key[-1:] if key else ()
        owner = DNSLabel(list(top))
        return RR(owner, QTYPE.SOA, ttl=NEG_TTL,
                  rdata=SOA(DNSLabel([b'ns'] + list(top)),
                            DNSLabel([b'hostmaster'] + list(top)),
                            (1, 3600, 600, 86400, NEG_TTL)))


def key_labels(name):
    """Labels of a name as given (case kept); "\\." and "\\DDD" escape
    octets inside a label."""
    if isinstance(name, DNSLabel):
        return tuple(name.label)
    if isinstance(name, str):
        name = name.encode('utf-8', 'surrogateescape')
    labels, cur, i = [], bytearray(), 0
    while i < len(name):
        c = name[i:i + 1]
        if c == b'\\' and i + 1 < len(name):
            if name[i + 1:i + 4].isdigit() and len(name[i + 1:i + 4]) == 3:
                cur.append(int(name[i + 1:i + 4]) & 0xff)
                i += 4
                continue
            cur += name[i + 1:i + 2]
            i += 2
            continue
        if c == b'.':
            labels.append(bytes(cur))
            cur = bytearray()
        else:
            cur += c
        i += 1
    if cur:
        labels.append(bytes(cur))
    if labels == [b'']:         # the root, "."
        labels = []
    return tuple(labels)


def make_rdata(rtype, value):
    try:
        if rtype == 'A':
            return A(str(ipaddress.IPv4Address(str(value).strip())))
        if rtype == 'AAAA':
            return AAAA(str(ipaddress.IPv6Address(str(value).strip())))
        if rtype == 'MX':
            if isinstance(value, (list, tuple)):
                pref, host = value
            else:
                pref, host = str(value).split(None, 1)
            return MX(DNSLabel(list(key_labels(str(host).strip()))),
                      int(pref))
        if rtype in ('TXT', 'SPF'):
            return txt_rdata(value)
        if rtype in ('CNAME', 'PTR', 'NS'):
            cls = {'CNAME': CNAME, 'PTR': PTR, 'NS': NS}[rtype]
            return cls(DNSLabel(list(key_labels(str(value).strip()))))
        if rtype == 'SOA':
            f = value if isinstance(value, (list, tuple)) else \
                str(value).split()
            if len(f) != 7:
                raise ZoneError('SOA needs 7 fields')
            return SOA(DNSLabel(list(key_labels(f[0]))),
                       DNSLabel(list(key_labels(f[1]))),
                       tuple(int(x) for x in f[2:]))
    except (ValueError, TypeError) as e:
        raise ZoneError('bad %s data %r: %s' % (rtype, value, e)) from e
    raise ZoneError('unsupported type %r' % rtype)


def split_fields(line):
    """Split a zone line into fields; "quoted strings" are kept as one
    field (marked by a leading '"') with \\" \\\\ and \\DDD escapes undone."""
    fields = []
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c in ' \t':
            i += 1
        elif c == ';':
            break
        elif c == '"':
            i += 1
            buf = bytearray()
            while True:
                if i >= n:
                    raise ZoneError('unterminated string')
                c = line[i]
                if c == '"':
                    i += 1
                    break
                if c == '\\' and i + 1 < n:
                    if line[i + 1:i + 4].isdigit() and \
                            len(line[i + 1:i + 4]) == 3:
                        buf.append(int(line[i + 1:i + 4]) & 0xff)
                        i += 4
                        continue
                    c = line[i + 1]
                    i += 1
                buf += c.encode('utf-8', 'surrogateescape')
                i += 1
            fields.append(b'"' + bytes(buf))
        else:
            j = i
            while j < n and line[j] not in ' \t;':
                j += 1
            fields.append(line[i:j])
            i = j
    return fields


def load_bind(zone, path):
    """BIND-like subset: "$ORIGIN", "$TTL", and lines
    NAME [TTL] [IN] TYPE RDATA  or  NAME TIMEOUT|SERVFAIL.
    Names without a trailing dot are relative to $ORIGIN; "@" is the
    origin. No parentheses: a SOA is written on one line."""
    origin = ''
    ttl_default = DEFAULT_TTL
    with open(path, encoding='utf-8', errors='surrogateescape') as f:
        for lineno, line in enumerate(f, 1):
            try:
                fields = split_fields(line.rstrip('\n'))
                if not fields:
                    continue
                if fields[0] == '$ORIGIN':
                    origin = fields[1].rstrip('.')
                    continue
                if fields[0] == '$TTL':
                    ttl_default = int(fields[1])
                    continue
                name = absolute(fields.pop(0), origin)
                ttl = ttl_default
                if fields and isinstance(fields[0], str) and \
                        fields[0].isdigit():
                    ttl = int(fields.pop(0))
                if fields and isinstance(fields[0], str) and \
                        fields[0].upper() == 'IN':
                    fields.pop(0)
                if not fields or not isinstance(fields[0], str):
                    raise ZoneError('missing type')
                rtype = fields.pop(0).upper()
                if rtype in MARKERS:
                    zone.add(name, rtype, None, ttl)
                elif rtype in ('TXT', 'SPF'):
                    strings = [x[1:] if isinstance(x, bytes) else as_bytes(x)
                               for x in fields]
                    zone.add(name, rtype, strings, ttl)
                elif rtype in ('CNAME', 'PTR', 'NS', 'MX', 'SOA'):
                    # Which fields are names: the last one, or SOA's two.
                    names = (0, 1) if rtype == 'SOA' else (len(fields) - 1,)
                    fields = [absolute(x, origin) if i in names else x
                              for i, x in enumerate(fields)]
                    zone.add(name, rtype, ' '.join(fields), ttl)
                else:
                    zone.add(name, rtype, ' '.join(fields), ttl)
            except (ZoneError, IndexError, ValueError) as e:
                raise ZoneError('%s:%d: %s' % (path, lineno, e)) from e


def absolute(name, origin):
    if isinstance(name, bytes):
        raise ZoneError('quoted name')
    if name == '@':
        return origin or '.'
    if name.endswith('.') or not origin:
        return name
    return name + '.' + origin


def load_mapping(zone, data, path):
    """The RFC 7208 test-suite shape: {name: [ {TYPE: value} | MARKER ]}.
    "TYPE: NONE" declares the name without data of that type; a list
    value for TXT/SPF is one RR of several character-strings; MX is
    [pref, host]."""
    if isinstance(data, dict) and 'zonedata' in data:
        data = data['zonedata']
    if not isinstance(data, dict):
        raise ZoneError('%s: expected a mapping of names' % path)
    for name, items in data.items():
        name = str(name)
        zone.node(name_key(name))
        for item in items or []:
            if isinstance(item, str):
                if item.upper() not in MARKERS:
                    raise ZoneError('%s: %s: unknown marker %r' %
                                    (path, name, item))
                zone.add(name, item.upper(), None, DEFAULT_TTL)
                continue
            if not isinstance(item, dict) or len(item) != 1:
                raise ZoneError('%s: %s: bad item %r' % (path, name, item))
            ((rtype, value),) = item.items()
            rtype = str(rtype).upper()
            if value == 'NONE':
                value = None
            zone.add(name, rtype, value, DEFAULT_TTL)


def load_zone(zone, path, scenario):
    if path.endswith('.json'):
        with open(path, encoding='utf-8') as f:
            load_mapping(zone, json.load(f), path)
    elif path.endswith(('.yml', '.yaml')):
        import yaml
        with open(path, encoding='utf-8') as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        if scenario is not None:
            if not 0 <= scenario < len(docs):
                raise ZoneError('%s: no scenario %d' % (path, scenario))
            docs = [docs[scenario]]
        elif len(docs) != 1:
            raise ZoneError('%s: %d documents, pick one with --scenario' %
                            (path, len(docs)))
        load_mapping(zone, docs[0], path)
    else:
        load_bind(zone, path)


class Answerer:
    def __init__(self, zone, verbose):
        self.zone = zone
        self.verbose = verbose

    def answer(self, request):
        """The reply DNSRecord, or None to stay silent (TIMEOUT)."""
        reply = DNSRecord(DNSHeader(id=request.header.id, qr=1, aa=1,
                                    ra=1, rd=request.header.rd),
                          q=request.q)
        if request.header.opcode != 0 or len(request.questions) != 1:
            reply.header.rcode = RCODE.NOTIMP
            return reply
        qname, qtype = request.q.qname, request.q.qtype
        key = name_key(qname)
        seen = set()
        while True:
            node = self.zone.nodes.get(key)
            if node and node['servfail']:
                reply.rr = []
                reply.header.rcode = RCODE.SERVFAIL
                return reply
            rrs = node['rrs'] if node else []
            match = [rr for rr in rrs if rr.rtype == qtype or
                     qtype == QTYPE.ANY]
            cname = [rr for rr in rrs if rr.rtype == QTYPE.CNAME]
            if match:
                reply.rr.extend(match)
                return reply
            if cname and qtype != QTYPE.CNAME:
                reply.rr.append(cname[0])
                seen.add(key)
                key = name_key(cname[0].rdata.label)
                if key in seen or len(seen) > CNAME_HOPS_MAX:
                    return reply        # loop: the resolver gives up
                continue
            if node and node['timeout']:
                return None
            if not self.zone.exists(key):
                reply.header.rcode = RCODE.NXDOMAIN
            reply.add_auth(self.zone.soa_for(key))
            return reply

    def wire(self, data, udp):
        try:
            request = DNSRecord.parse(data)
        except (DNSError, Exception):   # dnslib raises several kinds
            return None
        reply = self.answer(request)
        if self.verbose:
            q = request.q
            print('query %s %s -> %s' % (q.qname, QTYPE.get(q.qtype),
                                         'timeout' if reply is None else
                                         RCODE.get(reply.header.rcode)),
                  file=sys.stderr, flush=True)
        if reply is None:
            return None
        if request.ar:
            for rr in request.ar:
                if rr.rtype == QTYPE.OPT:
                    reply.add_ar(EDNS0(udp_len=4096))
                    break
        out = reply.pack()
        if udp:
            limit = 512
            for rr in request.ar:
                if rr.rtype == QTYPE.OPT:
                    limit = max(512, min(rr.rclass, 4096))
            if len(out) > limit:
                reply.rr, reply.auth, reply.ar = [], [], []
                reply.header.tc = 1
                out = reply.pack()
        return out


class UDPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        out = self.server.answerer.wire(data, True)
        if out is not None:
            sock.sendto(out, self.client_address)


class TCPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(TCP_IDLE_S)
        try:
            while True:
                hdr = self.recv_exact(2)
                if hdr is None:
                    return
                (length,) = struct.unpack('!H', hdr)
                data = self.recv_exact(length)
                if data is None:
                    return
                out = self.server.answerer.wire(data, False)
                if out is not None:
                    self.request.sendall(struct.pack('!H', len(out)) + out)
        except OSError:
            return

    def recv_exact(self, n):
        buf = b''
        while len(buf) < n:
            chunk = self.request.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf


class UDPServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    allow_reuse_address = False


class TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def bind_pair(port, answerer):
    """UDP and TCP servers on the same 127.0.0.1 port."""
    for _ in range(20):
        udp = UDPServer(('127.0.0.1', port), UDPHandler)
        real = udp.server_address[1]
        try:
            tcp = TCPServer(('127.0.0.1', real), TCPHandler)
        except OSError:
            udp.server_close()
            if port != 0:
                raise
            continue
        udp.answerer = tcp.answerer = answerer
        return udp, tcp, real
    raise OSError('no free port for UDP and TCP')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--port', type=int, required=True,
                    help='port on 127.0.0.1 (0: pick a free one)')
    ap.add_argument('--zone', action='append', required=True,
                    help='zone file (BIND-like, .json or .yml)')
    ap.add_argument('--scenario', type=int,
                    help='document index in multi-document YAML zones')
    ap.add_argument('-v', '--verbose', action='store_true',
                    help='log each query on stderr')
    args = ap.parse_args()

    zone = Zone()
    try:
        for path in args.zone:
            load_zone(zone, path, args.scenario)
    except (OSError, ZoneError) as e:
        print('dnsserver: %s' % e, file=sys.stderr)
        return 1
    udp, tcp, port = bind_pair(args.port, Answerer(zone, args.verbose))
    for srv in (udp, tcp):
        threading.Thread(target=srv.serve_forever, daemon=True).start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    parent = os.getppid()
    print('ready %d' % port, flush=True)
    while not stop.wait(0.5):
        if os.getppid() != parent:  # the test died without killing us
            break
    for srv in (udp, tcp):
        srv.shutdown()
        srv.server_close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
