"""Why a delivery failed, and whether the address itself is bad (hard) or may work later (soft).

Only a failure that says the address cannot work — no such mailbox, no such domain, the
address moved — is hard: the contact is flagged bounced and never mailed again. Everything
else is soft: a full or disabled mailbox, a spam or policy block aimed at the sender, a
message too large, greylisting, a delay, and any failure whose cause cannot be read. The
diagnostic text decides first (it names the cause), then the enhanced status code (RFC 3463)
with its subject and detail, never the class alone: `5.2.2` (mailbox full) is soft.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

BounceKind = Literal["hard", "soft"]


@dataclass(frozen=True)
class Severity:
    """A failure's kind and its cause in a few words."""

    kind: BounceKind
    reason: str


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(alternatives), re.IGNORECASE)


# In order: the first that matches names the cause. Specific phrases come before the generic
# words they contain ("Recipient address rejected: Access denied" is Microsoft's "no such
# recipient", while "access denied" alone is a policy block).
_TEXT_RULES: list[tuple[re.Pattern[str], BounceKind, str]] = [
    (
        _rx(
            r"AS\(201806281\)",
            r"5\.4\.1 Recipient address rejected: Access denied",
            r"RecipNotFound|RecipientNotFound|Recipient not found",
        ),
        "hard",
        "recipient not found",
    ),
    (
        # About our side, not the recipient: "Sender address rejected: Domain not found".
        _rx(
            r"sender (?:address |domain )?(?:rejected|refused|denied|verify failed|not allowed)",
            r"(?:mail from|sender|return-path) (?:address )?(?:domain )?(?:not found|unknown)",
            r"\b5\.1\.[78]\b",
        ),
        "soft",
        "our sender refused",
    ),
    (
        _rx(
            r"mailbox\W+(?:is\W+)?full",
            r"mailbox.{0,30}(?:full|over\W*quota|storage)",
            r"over\W*(?:the\W*)?quota|quota\W*(?:exceeded|exceed|full)|exceed\w*\W+(?:\w+\W+)?quota",
            r"insufficient (?:system )?storage|out of (?:disk )?storage",
            r"storage (?:limit|space|quota)",
            r"exceed\w*\W+(?:\w+\W+){0,3}storage|not enough (?:disk )?space",
            r"\bfull mailbox|inbox is full|account is full|user is over|MailboxFull",
            r"Postfach\W+(?:\w+\W+){0,2}voll|Speicher(?:platz)?\W+(?:\w+\W+){0,2}(?:voll|erschöpft)",
            r"bo[iî]te\W+(?:aux\W+lettres\W+)?(?:\w+\W+){0,2}pleine|quota d[ée]pass[ée]",
            r"casella\W+(?:\w+\W+){0,2}piena|buz[oó]n\W+(?:\w+\W+){0,2}lleno",
            r"caixa\W+(?:\w+\W+){0,2}(?:cheia|lotada)|skrzynka\W+(?:\w+\W+){0,2}pe[lł]na",
            r"mailbox size limit|size of the mailbox",
        ),
        "soft",
        "mailbox full",
    ),
    (
        _rx(
            r"disabled|deactivated|suspended|inactive|not active|account (?:is )?(?:locked|frozen)",
            r"temporarily (?:unavailable|blocked|deferred|rejected)|greylist|graylist",
            r"try (?:again )?later|please retry|retry (?:later|timeout)|temporar",
        ),
        "soft",
        "mailbox unavailable for now",
    ),
    (
        _rx(
            r"user unknown|unknown user|unknown recipient|recipient unknown|unknown local.part",
            r"no such (?:user|recipient|mailbox|account|address|person)",
            r"(?:user|mailbox|address|account|recipient|e-?mail)\W+(?:\S+\W+){0,6}"
            r"(?:does not|doesn't|did not|do not|does no longer) exist",
            r"(?:does not|doesn't) exist|non-?existent|not exist",
            r"(?:invalid|unknown|bad|illegal|unverified) (?:recipient|mailbox|address|user|"
            r"destination|e-?mail address)",
            r"(?:user|recipient|mailbox|address|account|addressee) (?:was )?not found",
            r"address (?:couldn't|could not|cannot|can't) be found|address not found",
            r"no mailbox (?:here|by that name)|mailbox (?:is )?unavailable|mailbox not available",
            r"not a valid (?:mailbox|recipient|user|address)|is not a known user",
            r"mailbox name (?:not allowed|invalid)|no such recipient here",
            r"(?:doesn't|does not|don't) have an? [\w.-]+ account|not listed in",
            r"recipient (?:address )?rejected: (?:user|undeliverable|unknown|invalid|"
            r"no such|mailbox)",
            r"no longer (?:valid|available|in use|exists|active|with)|has (?:been )?(?:moved|"
            r"removed|deleted)|account (?:has been |was )?(?:closed|deleted|removed|terminated)",
            r"destination address rejected|address lookup failure|unknown or illegal alias",
            r"mailbox not present|no account by that name|recipient no longer on server",
            r"user missing home directory|5\.1\.0 Address rejected|recipient address rejected: "
            r"access denied|address (?:is )?(?:unknown|invalid)",
            r"utilisateur inconnu|adresse (?:inconnue|invalide)|destinataire inconnu|"
            r"n'existe pas|introuvable",
            r"unbekannte?r? (?:Empfänger|Benutzer|Adresse)|(?:Empfänger|Benutzer)\W+unbekannt|"
            r"existiert nicht|nicht gefunden",
            r"utente (?:sconosciuto|inesistente)|indirizzo (?:inesistente|non valido)|non esiste",
            r"usuario (?:desconocido|inexistente)|destinatario (?:desconocido|inexistente)|"
            r"no existe|direcci[oó]n no v[aá]lida",
            r"onbekende (?:gebruiker|ontvanger|geadresseerde)|bestaat niet",
            r"usu[aá]rio (?:desconhecido|inexistente)|n[aã]o existe",
            r"nie istnieje|nieznany (?:u[zż]ytkownik|adresat|odbiorca)",
        ),
        "hard",
        "no such recipient",
    ),
    (
        _rx(
            r"unrouteable address|host or domain name not found|domain (?:name )?not found",
            r"no such domain|unknown domain|domain (?:does not|doesn't) exist|name service error",
            r"couldn't find any host|host not found|host unknown|MX (?:lookup|record)\w* failed",
            r"unknown host|unrouteable mail domain|illegal host|domain must exist",
            r"name or service not known|NXDOMAIN",
        ),
        "hard",
        "no such domain",
    ),
    (
        _rx(
            r"does not accept (?:any )?(?:e-?)?mail|null MX|no MX|not accepting (?:any )?mail",
            r"no SMTP service",
        ),
        "hard",
        "the domain accepts no mail",
    ),
    (
        _rx(
            r"blocked|block ?list|black ?list|listed (?:at|in|on|by)|spamhaus|spamcop|barracuda",
            r"\bRBL\b|DNSBL|reputation|spam|junk|policy|not authori[sz]ed|unauthenticated",
            r"authentication|DMARC|\bSPF\b|DKIM|access denied|refused|prohibited|rejected by",
            r"virus|malware|content|relay(?:ing)? (?:access )?(?:denied|not permitted)",
            r"too (?:large|big)|size (?:limit|exceeds)|exceeds (?:the )?(?:maximum|size)",
            r"rate limit|too many|throttl|timed? ?out|connection refused|could not connect",
            r"unable to connect|network is unreachable|no route|expired|too long in the queue",
            r"been in the queue too long|retry time|resources|system (?:error|full)|loop",
        ),
        "soft",
        "refused for a reason other than the address",
    ),
]

# Enhanced status subject.detail (RFC 3463) that say the address itself cannot work.
_HARD_STATUS = {
    "1.0": "bad address",
    "1.1": "no such mailbox",
    "1.2": "no such domain",
    "1.3": "bad address syntax",
    "1.6": "mailbox moved",
    "1.10": "domain accepts no mail",
    "4.4": "no route to the domain",
}
_SOFT_STATUS = {
    "2.0": "mailbox problem",
    "2.1": "mailbox disabled",
    "2.2": "mailbox full",
    "2.3": "message too large",
    "2.4": "mailing list problem",
    "3.4": "message too large",
    "4.7": "delivery time expired",
}
_SOFT_SUBJECT = {
    "3": "receiving system problem",
    "4": "network or routing problem",
    "5": "protocol problem",
    "6": "content refused",
    "7": "refused by policy",
}


def severity(status: str | None, diagnostic: str, *, delayed: bool = False) -> Severity:
    """How bad a failure with enhanced `status` and `diagnostic` text is."""
    if delayed:
        return Severity("soft", "delivery delayed, still being retried")
    temporary = status is not None and status.startswith("4")
    for pattern, kind, reason in _TEXT_RULES:
        if pattern.search(diagnostic):
            return Severity("soft" if temporary else kind, reason)
    if status is not None:
        found = _from_status(status)
        if found is not None:
            return Severity("soft", found.reason) if temporary else found
    if temporary:
        return Severity("soft", "temporary failure")
    return Severity("soft", "failure of unknown cause")


def _from_status(status: str) -> Severity | None:
    _, subject, detail = [*status.split("."), "", ""][:3]
    key = f"{subject}.{detail}"
    if key in _HARD_STATUS:
        return Severity("hard", _HARD_STATUS[key])
    if key in _SOFT_STATUS:
        return Severity("soft", _SOFT_STATUS[key])
    if subject in _SOFT_SUBJECT:
        return Severity("soft", _SOFT_SUBJECT[subject])
    return None
