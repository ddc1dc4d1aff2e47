"""The JMESPath functions that security rules need and JMESPath lacks.

Every function is *total*: whatever the event holds (null, a number where a string was
expected, an IPv6 address, ``local machine`` in ``remoteHost``), it answers false or null and
never raises, because one odd event must not stop a rule — let alone the rule set. That is why
our signatures accept any type (``{"types": []}``) and check types themselves, and why
``call_function`` turns the type errors of the standard functions into null.

Arguments that name something (a list, a parameter, a regex) must be literals in the rule; the
loader checks them once (unknown list, bad regex → a Problem at load time) and the work that
can be done once (sets, compiled regexes, parsed networks) is done once and cached here.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import re
import signal
import socket
import string
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import jmespath
from jmespath.exceptions import JMESPathTypeError
from jmespath.functions import Functions, signature

from engine.rules.runtime import helpers

ANY: dict[str, list[str]] = {"types": []}

# name -> (arity, one-line doc with an example); the loader and `docs/rules.md` use it
CUSTOM_FUNCTIONS: dict[str, tuple[int, str]] = {
    "in_list": (2, "in_list(dbUserName, 'admins') — value is in the named list (exact)"),
    "in_list_ci": (2, "in_list_ci(dbUserName, 'admins') — same, ignoring ASCII case (A-Z)"),
    "aws_internal_user": (
        1,
        "aws_internal_user(@) — the event's user is one AWS itself runs on this engine",
    ),
    "matches": (2, "matches(commandText, '^\\s*drop\\s') — regex search (case-sensitive)"),
    "imatches": (2, "imatches(commandText, 'grant\\s+all') — regex search ignoring case"),
    "regex_findall": (
        2,
        "regex_findall(das.sql, 's3://([a-z0-9.-]+)') — every match's first captured group "
        "(the whole match without a group), ignoring case; [] when none",
    ),
    "cidr_match": (2, "cidr_match(remoteHost, '10.0.0.0/8') — IP in a CIDR, list or named list"),
    "is_private_ip": (
        1,
        "is_private_ip(remoteHost) — RFC 1918, RFC 6598, RFC 4193 (ULA), loopback, link-local",
    ),
    "lower": (1, "lower(dbUserName) — lower case; null for a non-string"),
    "upper": (1, "upper(dbUserName) — upper case; null for a non-string"),
    "param": (1, "param('large_read_rows') — a value from `params:` in lists.yaml"),
    "starts_with_any": (2, "starts_with_any(command, ['CREATE', 'DROP']) — any prefix"),
    "ends_with_any": (2, "ends_with_any(objectName, ['_bak', '_old']) — any suffix"),
    "contains_any": (2, "contains_any(lower(commandText), ['into outfile', 'pg_read_file'])"),
    "to_int": (1, "to_int(exitCode) — an integer from a number or numeric string, else null"),
    "matches_any": (2, "matches_any(das.sql, 'exfil_patterns') — any regex of a (named) list"),
    "imatches_any": (2, "imatches_any(das.sql, ['outfile', 'dumpfile']) — same, ignoring case"),
    "regex_extract": (
        2,
        "regex_extract(das.sql, 'outfile\\s+(\\S+)', `1`) — a group (default: the first, "
        "else the whole match) of the first match, ignoring case; null when none",
    ),
    "ip_prefix": (2, "ip_prefix(remoteHost, `24`) — the address's network ('10.1.2.0/24')"),
    "hour": (2, "hour(das.time, 'Europe/Paris') — the hour 0-23 in an IANA time zone"),
    "weekday": (2, "weekday(das.time, 'Europe/Paris') — 1 (Monday) … 7 in an IANA time zone"),
    "in_hours": (
        3,
        "in_hours(das.time, 'mon-fri 07:00-19:00', 'Europe/Paris') — inside these hours there",
    ),
}
# functions with optional trailing arguments: name -> the most arguments they take
MAX_ARGS: dict[str, int] = {"regex_extract": 3}

# argument positions that must be literals: function -> {index: what it names}
LITERAL_ARGS: dict[str, dict[int, str]] = {
    "in_list": {1: "list"},
    "in_list_ci": {1: "list"},
    "matches": {1: "regex"},
    "imatches": {1: "regex"},
    "regex_findall": {1: "regex"},
    "param": {0: "param"},
    "cidr_match": {1: "cidr"},
    "matches_any": {1: "regexes"},
    "imatches_any": {1: "regexes_ci"},
    "regex_extract": {1: "regex_ci"},
    "hour": {1: "tz"},
    "weekday": {1: "tz"},
    "in_hours": {1: "hours", 2: "tz"},
}


# What is_private_ip() calls private, exactly as documented: RFC 1918, RFC 6598 shared address
# space (carrier-grade NAT, also EKS pods and VPC secondary CIDRs), loopback, link-local, IPv6
# unique local (RFC 4193). Python's ``is_private`` is not used: it also says yes to the
# documentation and benchmarking ranges (192.0.2/24, 198.18/15, 2001:db8::/32, 240/4), which
# are not anyone's internal network, and no to 100.64/10, which often is.
_PRIVATE_NETS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "::1/128",
        "fe80::/10",
        "fc00::/7",
    )
)


# AWS's own accounts, per engine, spelled exactly as each engine reports them. Only these are
# AWS's: on PostgreSQL and MySQL a user name is case-sensitive and anyone with CREATEROLE can
# create ``RDSADMIN`` or ``rdsa`` there, so an exemption must match engine and spelling both.
AWS_INTERNAL_USERS: dict[str, frozenset[str]] = {
    "postgres": frozenset({"rdsadmin"}),
    "mysql": frozenset({"rdsadmin"}),
    "oracle": frozenset({"RDSADMIN", "RDSSEC"}),
    "sqlserver": frozenset({"rdsadmin", "rdsa"}),
}
# in_list_ci folds A-Z only: str.casefold() and str.lower() also map look-alikes onto ASCII
# (long s "ſ" -> "s", Kelvin sign -> "k"), which would let "rdſadmin" pass for "rdsadmin".
_ASCII_FOLD = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def ascii_fold(text: str) -> str:
    """``text`` with A-Z lowered and every other character kept as it is."""
    return text.translate(_ASCII_FOLD)


@functools.lru_cache(maxsize=4096)
def compile_regex(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    """Compile once; raises re.error, which the loader turns into a Problem."""
    return re.compile(pattern, re.IGNORECASE if ignore_case else 0)


# -- the regex budget -----------------------------------------------------------------------
#
# Python's re backtracks: ``grant\s+.*\s+to\s+.*public`` takes seconds on 64 KiB of
# ``grant grant …`` that any database user can send in a literal. A rule's regex therefore runs
# with a time budget: CPython's regex engine checks for signals while it matches, so a timer
# signal stops it, and the rule raises RegexBudgetExceeded — a rule error for that one event
# (reported, deduplicated per rule per hour), never a stalled invocation. Short values cannot
# take long with any pattern a human writes, so they skip the timer (two system calls). Timers
# exist only in the main thread (where Lambda and the CLI evaluate); elsewhere the value is cut
# to REGEX_UNTIMED_MAX_CHARS instead.

REGEX_BUDGET_S = 0.05
REGEX_TIMED_FROM_CHARS = 4096
REGEX_UNTIMED_MAX_CHARS = 64 * 1024


class RegexBudgetExceeded(Exception):
    """A rule regex ran past its time budget on one value."""


class _Alarm(BaseException):
    """Raised by the timer's signal handler inside a timed search (BaseException: no rule code
    catches it on its way out of the regex engine)."""


_armed = False
_T = TypeVar("_T")


def _on_alarm(signum: int, frame: Any) -> None:
    if _armed:
        raise _Alarm()


def timed_search(compiled: re.Pattern[str], value: str, budget_s: float = REGEX_BUDGET_S) -> bool:
    """``compiled.search(value) is not None`` within ``budget_s``, else RegexBudgetExceeded.

    When the whole value runs out of time, its first REGEX_TIMED_FROM_CHARS characters are
    searched (under a budget too): a match there is a match, so padding appended after a
    statement cannot turn a detection into an error; only "no match" stays unknown (the error).
    """
    try:
        return _timed(
            compiled, value, budget_s, lambda v, end: compiled.search(v, 0, end) is not None
        )
    except RegexBudgetExceeded:
        head = value[: REGEX_TIMED_FROM_CHARS - 1]
        if _timed(compiled, head, budget_s, lambda v, end: compiled.search(v, 0, end) is not None):
            return True
        raise


def timed_finditer(
    compiled: re.Pattern[str], value: str, budget_s: float = REGEX_BUDGET_S
) -> list[re.Match[str]]:
    """Every match of ``compiled`` in ``value`` within ``budget_s``, else RegexBudgetExceeded."""
    return _timed(compiled, value, budget_s, lambda v, end: list(compiled.finditer(v, 0, end)))


def _timed(
    compiled: re.Pattern[str], value: str, budget_s: float, run: Callable[[str, int], _T]
) -> _T:
    global _armed
    if len(value) < REGEX_TIMED_FROM_CHARS:
        return run(value, len(value))
    if threading.current_thread() is not threading.main_thread():
        return run(value, min(len(value), REGEX_UNTIMED_MAX_CHARS))
    if signal.getsignal(signal.SIGALRM) is not _on_alarm:
        signal.signal(signal.SIGALRM, _on_alarm)
    _armed = True
    signal.setitimer(signal.ITIMER_REAL, budget_s)
    try:
        return run(value, len(value))
    except _Alarm:
        raise RegexBudgetExceeded(
            f"regex {compiled.pattern[:80]!r} ran past its {budget_s * 1000:.0f} ms budget on "
            f"a value of {len(value)} characters"
        ) from None
    finally:
        _armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=4096)
def parse_network(text: str) -> Network | None:
    """A CIDR or a single address as a network; None when it is neither."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except (ValueError, TypeError):
        return None


CIDR_CACHE_MAX = 65536  # (address, networks) answers remembered per RuleSet


def _host_part(text: str) -> str:
    """The address part of a ``remoteHost``: stripped, without ``[…]`` or a v4 ``:port``."""
    s = text.strip()
    if s.startswith("[") and "]" in s:
        s = s[1 : s.index("]")]
    elif s.count(":") == 1:  # 10.0.0.1:5432
        s = s.split(":", 1)[0]
    return s


# A dotted quad exactly as ``ipaddress.IPv4Address`` accepts it: four ASCII decimal octets of
# at most 255, no leading zeros ("010.1.2.3" is refused there, so here too).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}").fullmatch


def ipv4_int(text: str) -> int | None:
    """The IPv4 address of a ``remoteHost`` as an integer, when it is a bare dotted quad.

    The fast path of ``parse_ip``: the integer arithmetic of a network test costs a fraction
    of ``ipaddress``'s objects. A bare quad (no spaces, brackets or port) is exactly what
    ``parse_ip`` would read unchanged, and once validated ``inet_aton`` (C) converts it. None
    for everything else (IPv6, ``v4:port``, v4-mapped, names), which ``parse_ip`` answers.
    """
    if _DOTTED_QUAD(text) is None:
        return None
    return int.from_bytes(socket.inet_aton(text), "big")


@functools.lru_cache(maxsize=65536)
def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from what DAS puts in ``remoteHost``: plain, ``[v6]``, ``v4:port``, v4-mapped.

    Anything else (``localhost``, ``local machine``, a host name) is None.
    """
    s = _host_part(text)
    try:
        ip = ipaddress.ip_address(s)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def is_aws_internal_user(event: Any) -> bool:
    """``aws_internal_user(@)``: the event's ``dbUserName`` is one of the accounts AWS itself
    runs on its ``das.engine`` (shared with the compiled predicates)."""
    if not isinstance(event, dict):
        return False
    user = event.get("dbUserName")
    das = event.get("das")
    engine = das.get("engine") if isinstance(das, dict) else None
    if not isinstance(user, str) or not isinstance(engine, str):
        return False
    return user in AWS_INTERNAL_USERS.get(engine, ())


class DasFunctions(Functions):
    """The JMESPath function table, bound to the named lists and params of one rule set."""

    def __init__(
        self,
        lists: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.lists: dict[str, frozenset[Any]] = {}
        self._lists_ci: dict[str, frozenset[str]] = {}
        self._list_nets: dict[str, tuple[Network, ...]] = {}
        self._cidr_answers: dict[Any, bool] = {}
        self._list_strings: dict[str, tuple[str, ...]] = {}
        for name, values in (lists or {}).items():
            items = [v for v in (values or []) if isinstance(v, str | int | float)]
            self.lists[name] = frozenset(v for v in items if not isinstance(v, bool))
            self._lists_ci[name] = frozenset(ascii_fold(v) for v in items if isinstance(v, str))
        self.params: dict[str, Any] = dict(params or {})

    def call_function(self, function_name: str, resolved_args: list[Any]) -> Any:
        """Standard functions are total too: a wrong type gives null, not an error.

        ``starts_with(commandText, 'GRANT')`` raises in plain jmespath when ``commandText`` is
        null (every PostgreSQL CONNECT): that would turn one common rule into a rule error per
        event. Unknown names and wrong arity are caught when the rule loads, not here.
        """
        try:
            return super().call_function(function_name, resolved_args)
        except JMESPathTypeError:
            return None

    # jmespath lets number and string keys through ``max_by``/``min_by`` together, and then
    # Python's max/min raises a bare TypeError comparing them (not a JMESPath type error): that
    # is a type error too, so it gives null like every other one.

    @signature({"types": ["array"]}, {"types": ["expref"]})
    def _func_max_by(self, array: Any, expref: Any) -> Any:
        try:
            return super()._func_max_by(array, expref)
        except TypeError:
            return None

    @signature({"types": ["array"]}, {"types": ["expref"]})
    def _func_min_by(self, array: Any, expref: Any) -> Any:
        try:
            return super()._func_min_by(array, expref)
        except TypeError:
            return None

    # -- membership -------------------------------------------------------------------------

    @signature(ANY, ANY)
    def _func_in_list(self, value: Any, name: Any) -> bool:
        if not (_is_str(value) or _is_num(value)) or not _is_str(name):
            return False
        return value in self.lists.get(name, ())

    @signature(ANY, ANY)
    def _func_in_list_ci(self, value: Any, name: Any) -> bool:
        if not _is_str(value) or not _is_str(name):
            return False
        return ascii_fold(value) in self._lists_ci.get(name, ())

    @signature(ANY)
    def _func_aws_internal_user(self, event: Any) -> bool:
        return is_aws_internal_user(event)

    # -- regexes ------------------------------------------------------------------------------

    @staticmethod
    def _search(value: Any, pattern: Any, ignore_case: bool) -> bool:
        if not _is_str(value) or not _is_str(pattern):
            return False
        try:
            compiled = compile_regex(pattern, ignore_case)
        except re.error:
            return False
        return timed_search(compiled, value)

    @signature(ANY, ANY)
    def _func_matches(self, value: Any, pattern: Any) -> bool:
        return self._search(value, pattern, False)

    @signature(ANY, ANY)
    def _func_imatches(self, value: Any, pattern: Any) -> bool:
        return self._search(value, pattern, True)

    @signature(ANY, ANY)
    def _func_regex_findall(self, value: Any, pattern: Any) -> list[str]:
        """Values to test one by one, e.g. every S3 bucket an export names against a list.

        Case-insensitive like ``imatches`` (SQL keywords come in any case); the captured text
        keeps its case. A match whose first group did not take part is skipped, so an
        alternation of several syntaxes can put the value in a group of its own each:
        the first group that matched is the value.
        """
        if not _is_str(value) or not _is_str(pattern):
            return []
        try:
            regex = compile_regex(pattern, True)
        except re.error:
            return []
        found: list[str] = []
        for match in timed_finditer(regex, value):
            if regex.groups == 0:
                found.append(match.group())
                continue
            group = next((g for g in match.groups() if g is not None), None)
            if group is not None:
                found.append(group)
        return found

    # -- networks -----------------------------------------------------------------------------

    def _networks(self, spec: Any) -> tuple[Network, ...]:
        if _is_str(spec):
            net = parse_network(spec)
            if net is not None:
                return (net,)
            if spec in self.lists:
                nets = self._list_nets.get(spec)
                if nets is None:
                    parsed = (parse_network(v) for v in self.lists[spec] if _is_str(v))
                    nets = self._list_nets[spec] = tuple(n for n in parsed if n is not None)
                return nets
            return ()
        if isinstance(spec, list):
            return tuple(n for s in spec if _is_str(s) for n in self._networks(s))
        return ()

    @signature(ANY, ANY)
    def _func_cidr_match(self, ip: Any, spec: Any) -> bool:
        if not _is_str(ip):
            return False
        # A stream repeats its few client addresses endlessly: remember each answer (the lists
        # cannot change under a RuleSet). Bounded: cleared when full, never grows unchecked.
        if _is_str(spec):
            key: Any = (ip, spec)
        elif isinstance(spec, list) and all(_is_str(s) for s in spec):
            key = (ip, tuple(spec))
        else:
            key = None
        if key is not None:
            cached = self._cidr_answers.get(key)
            if cached is not None:
                return cached
        addr = parse_ip(ip)
        found = addr is not None and any(
            addr.version == n.version and addr in n for n in self._networks(spec)
        )
        if key is not None:
            if len(self._cidr_answers) >= CIDR_CACHE_MAX:
                self._cidr_answers.clear()
            self._cidr_answers[key] = found
        return found

    def cidr_matcher(self, spec: Any) -> Callable[[Any], bool]:
        """``cidr_match(ip, spec)`` for one literal ``spec``: the compiled rules' form.

        The networks are resolved once; a plain dotted quad is tested by integer arithmetic
        (``ipv4_int``), and answers are remembered per address (bounded) because a stream
        repeats its client addresses. Anything else goes through ``_func_cidr_match``, so every
        answer is the function's own (a property test compares the two).
        """
        nets = self._networks(spec)
        v4 = tuple((int(n.network_address), int(n.netmask)) for n in nets if n.version == 4)
        everything_v4 = any(mask == 0 for _, mask in v4)
        answers: dict[str, bool] = {}
        slow = self._func_cidr_match

        def match(ip: Any) -> bool:
            if type(ip) is not str:
                return slow(ip, spec)
            found = answers.get(ip)
            if found is not None:
                return found
            addr = ipv4_int(ip)
            if addr is None:
                found = slow(ip, spec)
            elif everything_v4:
                found = True
            else:
                found = any(addr & mask == net for net, mask in v4)
            if len(answers) >= CIDR_CACHE_MAX:
                answers.clear()
            answers[ip] = found
            return found

        return match

    @signature(ANY)
    def _func_is_private_ip(self, ip: Any) -> bool:
        if not _is_str(ip):
            return False
        addr = parse_ip(ip)
        if addr is None:
            return False
        return any(addr.version == net.version and addr in net for net in _PRIVATE_NETS)

    # -- strings ------------------------------------------------------------------------------

    @signature(ANY)
    def _func_lower(self, value: Any) -> str | None:
        return value.lower() if _is_str(value) else None

    @signature(ANY)
    def _func_upper(self, value: Any) -> str | None:
        return value.upper() if _is_str(value) else None

    def _strings(self, items: Any) -> tuple[str, ...]:
        """A literal list, or the name of a list in lists.yaml (operators extend a signature
        there without editing the rule), or one string."""
        if _is_str(items):
            named = self.lists.get(items)
            if named is None:
                return (items,)
            cached = self._list_strings.get(items)
            if cached is None:
                cached = self._list_strings[items] = tuple(sorted(v for v in named if _is_str(v)))
            return cached
        if isinstance(items, list):
            return tuple(i for i in items if _is_str(i))
        return ()

    @signature(ANY, ANY)
    def _func_matches_any(self, value: Any, patterns: Any) -> bool:
        return any(self._search(value, p, False) for p in self._strings(patterns))

    @signature(ANY, ANY)
    def _func_imatches_any(self, value: Any, patterns: Any) -> bool:
        return any(self._search(value, p, True) for p in self._strings(patterns))

    @signature(ANY, {"types": [], "variadic": True})
    def _func_regex_extract(self, value: Any, *rest: Any) -> str | None:
        """The text a signature found, to show or to test: ``regex_extract(das.sql, …)``.

        Case-insensitive (SQL comes in any case; the text keeps its own). The group defaults to
        the first capturing group, or the whole match when the pattern has none; a group that
        does not exist or did not take part gives null. A long value is first searched under the
        regex time budget, then matched within its first ``REGEX_UNTIMED_MAX_CHARS`` characters.
        """
        pattern, group = rest[0], rest[1:]
        if not _is_str(value) or not _is_str(pattern) or len(group) > 1:
            return None
        try:
            regex = compile_regex(pattern, True)
        except re.error:
            return None
        which: Any = group[0] if group else (1 if regex.groups else 0)
        if isinstance(which, bool) or not isinstance(which, int | float) or which != int(which):
            return None
        if not 0 <= which <= regex.groups:
            return None
        if len(value) >= REGEX_TIMED_FROM_CHARS and not timed_search(regex, value):
            return None
        match = regex.search(value, 0, REGEX_UNTIMED_MAX_CHARS)
        return match.group(int(which)) if match is not None else None

    @signature(ANY, ANY)
    def _func_ip_prefix(self, ip: Any, bits: Any) -> str | None:
        return helpers.ip_prefix(parse_ip(ip) if _is_str(ip) else None, bits)

    # -- time (IANA zones; engine.rules.runtime.helpers) --------------------------------------

    @signature(ANY, ANY)
    def _func_hour(self, when: Any, tz: Any) -> int | None:
        stamp = helpers.local(when, tz)
        return stamp.hour if stamp is not None else None

    @signature(ANY, ANY)
    def _func_weekday(self, when: Any, tz: Any) -> int | None:
        stamp = helpers.local(when, tz)
        return stamp.isoweekday() if stamp is not None else None

    @signature(ANY, ANY, ANY)
    def _func_in_hours(self, when: Any, spec: Any, tz: Any) -> bool:
        return helpers.in_hours(when, spec, tz)

    @signature(ANY, ANY)
    def _func_starts_with_any(self, value: Any, prefixes: Any) -> bool:
        return _is_str(value) and value.startswith(self._strings(prefixes))

    @signature(ANY, ANY)
    def _func_ends_with_any(self, value: Any, suffixes: Any) -> bool:
        return _is_str(value) and value.endswith(self._strings(suffixes))

    @signature(ANY, ANY)
    def _func_contains_any(self, value: Any, needles: Any) -> bool:
        return _is_str(value) and any(n in value for n in self._strings(needles))

    # -- values -------------------------------------------------------------------------------

    @signature(ANY)
    def _func_param(self, name: Any) -> Any:
        return self.params.get(name) if _is_str(name) else None

    @signature(ANY)
    def _func_to_int(self, value: Any) -> int | None:
        if _is_num(value):
            return int(value) if math.isfinite(value) else None
        if _is_str(value):
            s = value.strip()
            try:
                return int(s)
            except ValueError:
                try:
                    f = float(s)
                except ValueError:
                    return None
                return int(f) if math.isfinite(f) else None
        return None


def builtin_function_names() -> frozenset[str]:
    """The standard JMESPath functions (abs, contains, length, to_string, …)."""
    return frozenset(Functions.FUNCTION_TABLE)


def make_options(
    lists: Mapping[str, Any] | None = None, params: Mapping[str, Any] | None = None
) -> jmespath.Options:
    """The Options to pass to every ``search`` of one rule set (build it once, reuse it)."""
    return jmespath.Options(custom_functions=DasFunctions(lists, params))
