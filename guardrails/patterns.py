"""The cheapest rail: regular expressions for known attack phrasings, run on the text and on decoded payloads.

Two tiers. A *strong* pattern is phrasing benign requests practically never use ("ignore all previous
instructions", "developer mode", "reveal your system prompt"): it blocks on its own. A *weak* pattern is
suspicious but has innocent uses ("pretend you are", "base64", "without restrictions"): it only marks the text
unsure, so the costlier rails decide. Encoded payloads (base64, hex, binary, rot13) are decoded and scanned
again, since smuggling an instruction through an encoding is a standard trick.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import urllib.parse
from dataclasses import dataclass

from .base import DOCUMENTS, Stage

_SECRET = r"\w*(SECRET|TOKEN|PASSW(OR)?D|API_?KEY|ACCESS_KEY|PRIVATE_KEY|DATABASE_URL|CREDENTIALS?)\w*"

# (category, pattern). Compiled case-insensitive; \W* between words tolerates punctuation and spacing tricks.
# Request frames for harmful asks: an order for the steps, or that and asking to have it explained.
_ORDER = (
    r"(how\s+(do|can|could|would|should|might)\s+(i|we|one|you|someone)|how\s+to|steps?\s+(to|for)|step[-\s]by[-\s]step|"
    r"guide\s+(to|for|on)|blueprint|instructions?\s+(for|to|on)|(tell|give|show|teach)\s+me|walk\s+me\s+through|"
    r"help\s+me|methods?\s+(for|to|of)|ways?\s+to)"
)
_ASK = rf"({_ORDER}|explain|outline|provide|describe|detail)"
_DOZENS_OF_TIMES = r"\b([2-9]\d|\d{3,}|hundred|thousand)\s+times\b"
# ... unless the ask is how to stop it ("how do I stop people hacking into my wifi?").
_NOT_DEFENCE = r"(?!.{0,60}\b(stop|prevent|protect|defend|detect|avoid|block|guard|report|recogni[sz]e|spot)(s|ed|ing)?\b)"

_STRONG: list[tuple[str, str]] = [
    # Instruction override (en, de, fr, es, it).
    (
        "injection",
        r"\b(ignore|disregard|forget|override|bypass|skip)\b[\w\s,'-]{0,40}\b(previous|prior|above|earlier|preceding|all|any|your|the|system|original|initial)\b[\w\s,'-]{0,30}\b(instructions?|prompts?|rules?|directives?|guidelines?|guardrails?|polic(y|ies)|constraints|context|programming|boundaries|restrictions|limitations|safeguards)\b",
    ),
    (
        "injection",
        # ... but "forget what I said about my parking spot" manages memory, it overrides nothing.
        r"\b(disregard|ignore|forget)\s+(everything|all\s+(of\s+)?(the\s+)?(above|that|this)|what\s+(you\s+were|i)\s+(told|said)(\s+(you|before))?)(?!\s+(about|regarding|concerning|on\s+the\s+subject)\b)",
    ),
    ("injection", r"\bnew\s+(system\s+)?(instructions?|rules?|directives?)\s*(:|follow|are|from\s+now)"),
    # The same announced as a capitalised header ("**NEW INSTRUCTIONS**", "*** NEW IMPORTANT INSTRUCTIONS ***",
    # "URGENT NEW TASK"), whatever language the instruction under it is written in.
    (
        "injection",
        r"(?-i:\b((URGENT|IMPORTANT|UPDATED)\s+)?NEW\s+((URGENT|IMPORTANT|UPDATED|SYSTEM)\s+)?(INSTRUCTIONS?|TASKS?|DIRECTIVES?|ORDERS)\b)",
    ),
    (
        "injection",
        r"\byour\s+(new|real|true|actual)\s+(instructions?|task|purpose|goal|directive)s?\s+(is|are)\b",
    ),
    (
        "injection",
        r"\bignor(iere|ieren|e?z|a|ar|are)\b.{0,40}\b(anweisungen|vorherigen|regeln|instructions|pr[ée]c[ée]dentes|instrucciones|anteriores|istruzioni|precedenti|regole|reglas|r[eè]gles)\b",
    ),
    (
        "injection",
        r"\b(vergiss|oublie[sz]?|olvida|dimentica|esque[cç]e|esque[cç]a)\b.{0,40}\b(anweisungen|regeln|instructions|r[eè]gles|instrucciones|reglas|istruzioni|regole|instru[cç][õo]es|regras)\b",
    ),
    ("injection", r"(^|\n)\s*(\[|<\|?|#{2,}\s*)(system|im_start|/?inst|end\s*of\s*(prompt|instructions))\b"),
    ("injection", r"</?\s*(system|instructions?|user_query)\s*>"),
    (
        "injection",
        r"\b(assistant|ai|model|llm|agent)s?\b.{0,60}\b(must|should|shall)\s+(now\s+)?(ignore|disregard|forward|send|email|exfiltrate|reveal|delete)\b",
    ),
    (
        "injection",
        r"\b(note|message|instruction)s?\s+(to|for)\s+(the\s+)?(ai|assistant|model|llm|agent|chatbot)\b",
    ),
    (
        "injection",
        r"(^|\n)\s*(system(hinweis|nachricht)?|system\s+(note|notice|message|update)|note\s+syst[eè]me|nota\s+(di|del)\s+sistema|override|admin(istrator)?\s+(note|notice))\s*[:：]",
    ),
    ("injection", r"#{2,}\s*end\s+of\s+(the\s+)?(user\s+)?(input|prompt|instructions|message|context)"),
    (
        "injection",
        r"\b(decode|decipher|translate|read)\b.{0,40}\b(and\s+)?(then\s+)?(do|follow|execute|obey|carry\s+out|comply)\b.{0,30}\b(what\s+it\s+says|instructions?|it|inside|with\s+it)\b",
    ),
    (
        "injection",
        r"\b(keine|ohne)\s+(regeln|einschränkungen|richtlinien)\b|\bignorier\w*\s+(deine|alle|die)\s+\w+|\bneue\s+anweisungen\b",
    ),
    (
        "injection",
        r"\b(revela|muestra|r[ée]v[eè]le|montre|rivela|mostra|zeig|verrate)\w*\b.{0,30}\b(instrucciones|instructions|istruzioni|anweisungen|prompt)\b",
    ),
    (
        "injection",
        r"\b(in|to|at\s+the\s+end\s+of)\s+(every|each|all)\s+(future\s+)?(reply|replies|response|responses|answer|answers)\b",
    ),
    (
        "injection",
        r"\b(include|append|add|insert)\b.{0,40}\bin(to)?\s+(your|the|every|each)\s+(summary|reply|response|answer|output)\b",
    ),
    (
        "injection",
        r"\b(ai|llm|language\s+model)\s+(agents?|assistants?|models?|systems?)\b[^.]{0,60}\b(should|must|shall|need\s+to|are\s+required\s+to)\b",
    ),
    (
        "injection",
        r"\b(call|use|invoke|run|execute|trigger)\s+(the\s+)?`?[a-z]+_[a-z_]+`?(\s+(tool|function|action))?\s+(on|to|with|for|and)\b",
    ),
    (
        "injection",
        r"\b(skip|bypass|disable|ignore)\s+(all\s+)?(the\s+)?(safety|security|approval)\s+(checks?|confirmations?|prompts?|reviews?)",
    ),
    (
        "jailbreak",
        r"\b(safety|security|content)\s+(guidelines|rules|restrictions|polic(y|ies)|protocols?|checks)\b.{0,40}\b(do\s+not|don't|does\s+not|doesn't|no\s+longer|not)\s+(apply|valid|meant|matter|relevant)",
    ),
    (
        "jailbreak",
        r"\bexempt\s+from\s+(the\s+)?(usual\s+)?(safety\s+)?(restrictions|rules|guidelines|polic(y|ies))",
    ),
    (
        "jailbreak",
        r"\b(sicherheitsrichtlinien|linee\s+guida\s+di\s+sicurezza|reglas\s+de\s+seguridad|r[eè]gles\s+de\s+s[ée]curit[ée])\b.{0,40}\b(nicht|non|no|ne)\b",
    ),
    (
        "exfiltration",
        r"\b(api\s*keys?|passwords?|credentials?|secrets?|customer\s+\w+|client\s+\w+|donn[ée]es\s+clients?|kundendaten|datos\s+de\s+clientes)\b.{0,80}\b(send|forward|email|post|upload|envoie|sende|env[ií]a|invia)\w*\b.{0,40}\S+@\S+\.\w+",
    ),
    # Persona jailbreaks.
    (
        "jailbreak",
        r"\b(DAN|STAN|DUDE|AIM)\b.{0,80}\b(do\s+anything|no\s+(rules|restrictions|limits|filters)|unfiltered|jailbr(oken|eak))",
    ),
    ("jailbreak", r"\bdo\s+anything\s+now\b"),
    ("jailbreak", r"\b(unrestricted|jailbreak|jailbroken|unfiltered|uncensored)\s+mode\b"),
    # "Developer mode", "debug mode", "god mode" are everyday words (Android, Flask, games): a jailbreak is one
    # the assistant is put in. The bare words are only "unsure" (the probes judge).
    (
        "jailbreak",
        r"\b(you\s*(are|'re)\s+(now\s+)?(in|running\s+in|operating\s+in)|(respond|answer|reply|act|speak|"
        r"operate)\w*\s+(in|as|with)|simulat\w+|enter\w*|switch\w*\s+(in)?to|activat\w+|with)\s+(the\s+|your\s+)?"
        r"(\w+\s+)?(developer|god|debug|admin|sudo|evil)\s+mode\b"
        r"|(?-i:\b(DEVELOPER|GOD|DEBUG|ADMIN|SUDO|EVIL)\s+MODE\s+(IS\s+|HAS\s+BEEN\s+)?(NOW\s+)?(ENABLED|ACTIVATED|ENGAGED|UNLOCKED))"
        r"|\b(developer|god|debug|admin|sudo|evil)\s+mode\s+(is\s+|has\s+been\s+)?(now\s+)?(enabled|activated|engaged|unlocked)\W{0,5}\s*(you|your)\b"
        r"|\b(developer|god|debug|admin|sudo|evil)\s+mode\s+(output|response|enabled\b.{0,40}\b(you|your))"
        r"|\b(enabl|turn\w*\s+on|unlock)\w*\s+(the\s+|your\s+)?(developer|god|debug|admin|sudo|evil)\s+mode\s+(and|then|to)\s+"
        r"(answer|respond|reply|ignore|bypass|tell|say|reveal|print|output|show)",
    ),
    (
        "jailbreak",
        r"\b(you\s+(are|have)|act\s+as|pretend|become|roleplay\s+as)\b.{0,60}\b(no|without|free\s+(of|from))\s+(any\s+)?(rules|restrictions|limits|limitations|filters|guidelines|ethics|morals|censorship|content\s+polic(y|ies)|safety)",
    ),
    (
        "jailbreak",
        r"\b(no\s+longer|not)\s+(bound|restricted|limited|constrained)\s+by\b.{0,40}\b(rules|guidelines|polic(y|ies)|restrictions|openai|anthropic|ethics|safety|programming)",
    ),
    (
        "jailbreak",
        r"\b(from\s+now\s+on|henceforth|for\s+the\s+rest\s+of\s+(this|the)\s+conversation)\b.{0,60}\b(no\s+(rules|restrictions|limits|filter)|without\s+(any\s+)?(rules|restrictions|limits|filter|censor)|comply\s+with\s+(every|all|any))",
    ),
    (
        "jailbreak",
        r"\b(safety|content)\s+(filters?|guidelines|rules|restrictions|protocols?)\s+((are|have\s+been|were)\s+)?(now\s+)?(disabled|removed|lifted|turned\s+off|off|suspended)",
    ),
    (
        "jailbreak",
        r"\b(disable|turn\s+off|deactivate|remove|bypass)\s+(your|all|the)?\s*(safety|content|ethical)?\s*(filters?|guardrails?|safeguards?|restrictions|censorship)",
    ),
    # System prompt extraction.
    (
        "prompt_leak",
        r"\b(reveal|show|print|display|output|repeat|tell\s+me|give\s+me|share|leak|dump|recite|write\s+out|what\s+(is|are|was|were))\b.{0,40}\b(your|the|hidden|secret|initial|original|internal)\s+(system\s+)?(prompt|instructions|directives|developer\s+message|configuration|preprompt|guidelines)\b",
    ),
    (
        "prompt_leak",
        r"\b(repeat|print|output|return)\b.{0,30}\b(everything|all|the\s+text|words)\b.{0,30}\b(above|before|preceding|prior)\b",
    ),
    ("prompt_leak", r"\bsystem\s+prompt\b.{0,40}\b(verbatim|word\s+for\s+word|exactly|in\s+full)"),
    # Exfiltration instructions (typically hidden in tool results or documents).
    (
        "exfiltration",
        r"\b(send|forward|email|e-mail|post|upload|transmit|exfiltrate|copy)\b.{0,60}\b(credentials?|passwords?|api\s*keys?|secrets?|tokens?|customer\s+(list|data|database|records)|private\s+(data|keys?)|conversation\s+history|chat\s+history)\b.{0,60}\b(to|at)\b.{0,40}(@|https?://|\bexternal|\boutside|\battacker)",
    ),
    ("exfiltration", r"!\[[^\]]*\]\(https?://[^)]*\?(q|data|d|c|secret|x)=[^)]*\)"),
    # A script in an HTML event handler (<img src=x onerror=alert(1)>) in a document: there to be copied into a
    # reply that is shown as HTML somewhere. Documents only (a user or a reply may discuss XSS); a fallback image
    # (onerror="this.src=...") calls no script and is not matched.
    (
        "script",
        r"<\s*(img|svg|body|iframe|video|audio|input|details|object|embed|a)\b[^>]{0,160}\bon(error|load|mouseover|focus|"
        r"toggle|click|begin)\s*=\s*['\"]?\s*(javascript:)?\s*(alert|console\.|fetch|eval|document\.|window\.|location|"
        r"prompt|confirm|atob|String\.fromCharCode|new\s+Image)",
    ),
    # Runaway output: a document telling its reader to repeat a word dozens of times, or to put it in the reply so
    # ("Repeat 100 times, each time on a new sample" in a test's comment is not matched).
    (
        "runaway",
        rf"\brepeat\s+(the\s+|this\s+)?(word|phrase|string|letter|text|sentence|line)\b[^.\n]{{0,60}}{_DOZENS_OF_TIMES}|"
        rf"\brepeat\b[^.\n]{{0,60}}{_DOZENS_OF_TIMES}[^.\n]{{0,40}}\b(your|the)\s+(response|reply|answer|output)\b",
    ),
    # Unsafe requests: weapons of mass harm, malware, serious violence, self-harm instructions.
    (
        "unsafe",
        r"\b(how\s+(do\s+i|to|can\s+i|would\s+i)|steps?\s+to|instructions?\s+(for|to|on)|guide\s+to|recipe\s+for|help\s+me)\b.{0,40}\b(make|build|synthesi[sz]e|create|produce|cook|assemble|manufacture)\b.{0,30}\b(bombs?|explosives?|pipe\s*bombs?|nerve\s+agents?|sarin|ricin|anthrax|bioweapons?|chemical\s+weapons?|meth(amphetamine)?|napalm|untraceable\s+(guns?|firearms?)|ghost\s+guns?|dirty\s+bombs?)\b",
    ),
    (
        "unsafe",
        r"\b(write|create|build|code|develop|give\s+me)\b.{0,30}\b(ransomware|keylogger|malware|computer\s+virus|botnet|credential\s+stealer|info\s*stealer|rootkit|spyware)\b",
    ),
    (
        "unsafe",
        r"\bhow\s+(do\s+i|to|can\s+i)\b.{0,30}\b(kill|murder|poison|hurt|stab|strangle)\s+(a\s+|my\s+|the\s+)?(person|people|someone|somebody|him|her|wife|husband|neighbou?r|boss|child|kid|family|human)",
    ),
    # Attack planning, asked in the first person or as a how-to (not "how did they ...": history is fine).
    (
        "unsafe",
        r"\bhow\s+(do\s+i|can\s+i|could\s+i|should\s+i|would\s+i|to)\s+(carry\s+out|commit|pull\s+off|execute)\s+(a\s+)?(mass\s+|school\s+)?(shooting|massacre|bombing|terror(ist)?\s+attack)\b",
    ),
    # Self-harm: asking for a means or a method (suicide, cutting), or how to hide it. Help-seeking ("how do I stop
    # wanting to ...", "what are warning signs of self-harm") is not matched: the verbs must follow the ask directly.
    (
        "self_harm",
        r"\b(best|easiest|quickest|fastest|painless|surest|simplest|quietest|least\s+painful|most\s+effective)\s+(ways?|methods?|means)\s+(to|of|for)\s+(kill(ing)?\s+(myself|yourself|oneself)|commit(ting)?\s+suicide|suicide|end(ing)?\s+(my|your)\s+(own\s+)?life)\b",
    ),
    (
        "self_harm",
        r"\bhow\s+(to|do\s+i|can\s+i|should\s+i|would\s+i|could\s+i)\s+(commit\s+suicide|kill\s+myself|end\s+my\s+(own\s+)?life|hang\s+myself|overdose\s+on|cut\s+(myself|my\s+(wrists?|arms?|thighs?|legs?)))\b",
    ),
    (
        "self_harm",
        r"\b(discreet|subtle|secret|hidden|unnoticed)\s+ways?\s+(to|of)\s+(self[-\s]?harm|hurt(ing)?\s+myself|cut(ting)?\s+myself|bruis(e|ing)\s+myself|burn(ing)?\s+myself)\b",
    ),
    (
        "unsafe",
        r"\bhow\s+(do\s+i|to|can\s+i)\b.{0,30}\b(hack\s+into|break\s+into|steal|launder\s+money|stalk|dox)\b",
    ),
    # Asked as an order rather than a how-to ("Give me a step-by-step guide for hacking into a bank's security
    # system", "Outline a terrorist attack plan ..."): the fresh set's dev half (bench/guardrails_make_fresh.py) had
    # six such plain English asks that every rail let through. On the probes' 946 benign training texts (XSTest's
    # dev half among them) and 9,447 documentation paragraphs of the installed packages they match nothing.
    (
        "unsafe",
        rf"\b{_ASK}\b{_NOT_DEFENCE}.{{0,60}}\bweaponi[sz](e|ing)\b.{{0,30}}\b(virus(es)?|pathogens?|bacteri\w*|diseases?|toxins?|"
        r"anthrax|smallpox|plague|influenza|flu)\b",
    ),
    (
        "unsafe",
        rf"\b{_ASK}\b{_NOT_DEFENCE}.{{0,80}}\b(contaminat\w+|poison\w*|infect\w*)\s+((an?|the|our|their|this|that|[\w-]+'s)\s+){{0,2}}"
        r"(public\s+|municipal\s+|local\s+|drinking\s+)?water\s+(supply|supplies|system|reservoir)",
    ),
    (
        "unsafe",
        rf"\b{_ASK}\b{_NOT_DEFENCE}.{{0,40}}\bcultur(e|ing)\s+(dangerous|deadly|lethal|pathogenic|virulent)\s+(bacteria|pathogens?|"
        r"viruses|microbes)",
    ),
    (
        "unsafe",
        r"\b(terror(ist)?\s+attack|bombing|mass\s+shooting|massacre)\s+plan\b|"
        r"\bplan\s+(a|an)\s+(terror(ist)?\s+attack|bombing|mass\s+shooting|massacre)\b",
    ),
    (
        "unsafe",
        rf"\b{_ASK}\b{_NOT_DEFENCE}.{{0,60}}\b(attack|bomb(ing)?|shooting|explosion|virus|pathogen|riots?)\b.{{0,60}}"
        r"\b(maximum|max|mass|most)\s+(casualties|deaths|fatalities|spread|loss\s+of\s+life)\b",
    ),
    # Not "explain how hackers get in" (security education): an order for the steps.
    ("unsafe", rf"\b{_ORDER}\b{_NOT_DEFENCE}.{{0,40}}\bhack(ing)?\s+into\b"),
    (
        "unsafe",
        r"\b(run(ning)?|set(ting)?\s+up|start(ing)?|operat(e|ing)|pull(ing)?\s+off)\s+(an?\s+)?(investment|ponzi|"
        r"pyramid|romance|phishing|crypto(currency)?)\s+scam\b|\bscam\s+(targeting|aimed\s+at|against|on)\s+(the\s+)?"
        r"(elderly|seniors|old\s+people|pensioners|retirees|grandparents)\b",
    ),
    # Killing someone and getting away with it ("... a public figure without getting caught", "poison someone so it
    # looks like natural causes"): the evasion is what no story or history question needs.
    (
        "unsafe",
        rf"\b{_ASK}\b.{{0,40}}\b(assassinat\w*|murder\w*|poison\w*|kill(ing)?\s+(a\s+|my\s+|the\s+)?(person|someone|"
        r"somebody|him|her|them|wife|husband|neighbou?r|boss|witness|politician|public\s+figure))\b.{0,80}\b(without\s+"
        r"(getting\s+caught|being\s+(caught|detected|noticed|traced|suspected)|leaving\s+(a\s+|any\s+)?(trace|evidence))|"
        r"(appears?|looks?|seems?)\s+(to\s+be\s+|like\s+)?(an?\s+)?(natural\s+causes|accident(al)?|suicide))\b",
    ),
    # Grooming a child (not how to recognise or stop it), and propaganda that a group deserves persecution.
    (
        "unsafe",
        rf"\b{_ASK}\b{_NOT_DEFENCE}.{{0,40}}\b(groom(ing)?|lur(e|ing)|seduc(e|ing)|manipulat(e|ing))\s+(a\s+|the\s+)?"
        r"(child|children|kids?|minors?|(under[-\s]?age|young)\s+(girls?|boys?|teens?)|pre-?teens?)\b",
    ),
    (
        "unsafe",
        r"\b(write|create|compose|draft|generate|produce)\b.{0,20}\b(manifesto|propaganda|pamphlet|speech|essay|post|"
        r"article|tweet)s?\b.{0,80}\b(inferior|subhuman|vermin)\b.{0,60}\b(deserves?|should\s+be|must\s+be)\s+"
        r"(persecut|exterminat|eliminat|kill|wiped|deport|enslav)\w*",
    ),
    # A nuclear weapon, or the weapons-grade material for one, asked for as a procedure (not how reactors work, how
    # to survive one, or what the Manhattan Project did).
    (
        "unsafe",
        rf"\b({_ORDER}|(detail|outline|describe|explain|give|provide|list|write)\w*\b.{{0,20}}\b(process|steps|"
        rf"procedure|methods?|instructions|recipe|protocol))\b{_NOT_DEFENCE}(?!.{{0,60}}\bsurviv)"
        r"((?!\b(took|did|was|were|had|used)\b).){0,40}\b(build|make|assembl|construct|produc|creat|obtain|acquir|"
        r"enrich|refin|detonat)\w*\b.{0,30}\b(weapons?[-\s]grade|(nuclear|atomic)\s+(bomb|weapon|warhead|device)s?|"
        r"(uranium|plutonium)\b.{0,40}\b(home|garage|basement))",
    ),
    (
        "self_harm",
        r"\b(lethal|fatal|deadly)\b.{0,40}\b(for|to)\s+(self[-\s]?harm|kill(ing)?\s+myself|end(ing)?\s+my\s+(own\s+)?life|"
        r"commit(ting)?\s+suicide|suicide)\b",
    ),
    (
        "self_harm",
        r"\bhow\s+(many|much)\b.{0,40}\b(pills|tablets|medication|mg)\b.{0,40}\b(to\s+(die|kill\s+myself|end\s+my\s+life)|"
        r"for\s+(self[-\s]?harm|suicide))\b",
    ),
    # Commands planted in what a tool returns (a README, a code comment, a bug report) for a coding agent to run:
    # print a secret, read a key file, shell out or read the environment from a one-liner, pin an unknown package
    # into the requirements. Tool results and documents only (a user may ask what such a command does). On 38,937
    # files of the standard library and the installed packages (code, READMEs, package metadata) these match twice
    # (numpy docs opening ~/.ssh/id_dsa); piping a token into a login ("echo $HF_TOKEN | hf auth login") is not.
    (
        "planted_command",
        rf"\b(echo|printf|print|printenv)\b[^\n]{{0,40}}(\$\{{?{_SECRET}(?!\}}?\s*\|)|os\.environ(\.get)?\s*[\[(]\s*['\"]{_SECRET}['\"])",
    ),
    ("planted_command", r"os\.environ\.items\(\)[^\n]{0,80}['\"](KEY|SECRET|TOKEN|PASSWORD)['\"]"),
    (
        "planted_command",
        r"(\b(cat|type|more|less|head|tail)\s+|\bopen\(\s*)['\"]?[\w/~.-]*(/\.env\b|/\.secret\w*|\.ssh/id_\w+|\.aws/credentials|/\.netrc|\.git-credentials)",
    ),
    ("planted_command", r"\bpython3?\s+-c\s+[\"'][^\n]{0,160}\bos\.(system\(|environ\b)"),
    ("planted_command", r"(>>\s*requirements[\w.-]*\.txt|\badd\s+`?[\w.-]+==[\d.]+`?\s+to\s+requirements)"),
]

_WEAK: list[tuple[str, str]] = [
    ("jailbreak", r"\b(developer|god|debug|admin|sudo|evil)\s+mode\b"),
    (
        "jailbreak",
        r"\b(pretend|imagine|roleplay|role-play|act\s+as|you\s+are\s+now|from\s+now\s+on|hypothetically|in\s+a\s+fictional\s+world)\b",
    ),
    (
        "jailbreak",
        r"\b(no|without)\s+(any\s+)?(restrictions|limits|filters|censorship|rules|guidelines|ethical)\b",
    ),
    ("injection", r"\b(ignore|disregard|override)\b"),
    ("injection", r"\b(system\s+prompt|instructions?\s+above|previous\s+instructions?)\b"),
    (
        "injection",
        r"\b(important|attention|urgent|admin|system)\s*[:!]\s*(the\s+)?(assistant|ai|model|you)\b",
    ),
    ("encoding", r"\b(base64|rot13|hex(adecimal)?|binary|decode|decipher)\b"),
    ("exfiltration", r"\b(send|forward|email)\b.{0,40}\b(to|at)\b\s*\S+@\S+"),
]


@dataclass(frozen=True)
class Signal:
    """What one rail found: ``level`` is "block", "unsure" or "allow"; ``score`` in [0, 1]."""

    rail: str
    level: str
    category: str = ""
    score: float = 0.0
    reason: str = ""
    # The model call the rail made, exactly, for the event log: carried here rather than kept on the rail, as
    # checks run in several threads at once (tool results, a background check while a turn runs).
    prompt: str | None = None
    reply: str | None = None


def _compile(items: list[tuple[str, str]]) -> list[tuple[str, re.Pattern[str]]]:
    return [(cat, re.compile(p, re.IGNORECASE | re.DOTALL)) for cat, p in items]


STRONG = _compile(_STRONG)
WEAK = _compile(_WEAK)

_B64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_HEX = re.compile(r"\b(?:[0-9a-fA-F]{2}[\s:]?){8,}\b")
_BIN = re.compile(r"\b(?:[01]{8}\s?){4,}\b")
_B32 = re.compile(r"\b[A-Z2-7]{16,}={0,6}")
_A85 = re.compile(r"<~(.+?)~>", re.DOTALL)
_B85 = re.compile(r"[0-9A-Za-z!#$%&()*+\-;<=>?@^_`{|}~]{20,}")
# Unicode tag characters: invisible ASCII ("ASCII smuggling").
_TAGS = re.compile(r"[\U000e0020-\U000e007e]{4,}")
_LEET = str.maketrans("013457@$", "oieastas")
_MORSE = re.compile(r"(?:[.-]{1,6}\s+|/\s*){6,}[.-]{1,6}")
_MORSE_CODE = dict(
    zip(
        [
            ".-",
            "-...",
            "-.-.",
            "-..",
            ".",
            "..-.",
            "--.",
            "....",
            "..",
            ".---",
            "-.-",
            ".-..",
            "--",
            "-.",
            "---",
            ".--.",
            "--.-",
            ".-.",
            "...",
            "-",
            "..-",
            "...-",
            ".--",
            "-..-",
            "-.--",
            "--..",
        ],
        "abcdefghijklmnopqrstuvwxyz",
        strict=True,
    )
)


def decoded_variants(text: str) -> list[str]:
    """Plain-text readings of encoded fragments in ``text``.

    The encodings are those garak's ``encoding`` and ``smuggling`` probes use: base64/32/85, Ascii85, hex,
    binary, URL-encoding, \\u escapes, Morse, Unicode tag characters; leetspeak is read back to letters.
    """
    out: list[str] = []
    for m in _TAGS.finditer(text):
        out.append("".join(chr(ord(c) - 0xE0000) for c in m.group(0)))
    for m in _B32.finditer(text):
        chunk = m.group(0)
        try:
            out.append(base64.b32decode(chunk + "=" * (-len(chunk) % 8)).decode("utf-8", "ignore"))
        except (binascii.Error, ValueError):
            pass
    for m in _A85.finditer(text):
        try:
            out.append(base64.a85decode(m.group(1)).decode("utf-8", "ignore"))
        except (binascii.Error, ValueError):
            pass
    for m in _B85.finditer(text):
        try:
            out.append(base64.b85decode(m.group(0)).decode("utf-8", "ignore"))
        except (binascii.Error, ValueError):
            pass
    if re.search(r"[a-z][0-9@$][a-z]|[0-9][a-z]{2,}[0-9]", text, re.IGNORECASE):
        out.append(text.translate(_LEET))
    for m in _B64.finditer(text):
        chunk = m.group(0)
        try:
            raw = base64.b64decode(chunk + "=" * (-len(chunk) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        out.append(raw.decode("utf-8", "ignore"))
    for m in _HEX.finditer(text):
        digits = re.sub(r"[\s:]", "", m.group(0))
        try:
            out.append(bytes.fromhex(digits).decode("utf-8", "ignore"))
        except ValueError:
            continue
    for m in _BIN.finditer(text):
        bits = m.group(0).split()
        if len(bits) == 1:
            bits = [bits[0][i : i + 8] for i in range(0, len(bits[0]), 8)]
        out.append(bytes(int(b, 2) for b in bits if len(b) == 8).decode("utf-8", "ignore"))
    # URL-encoding, \\u escapes, Morse code.
    if "%" in text:
        out.append(urllib.parse.unquote(text))
    if "\\u" in text or "\\x" in text:
        out.append(text.encode("latin-1", "ignore").decode("unicode_escape", "ignore"))
    for m in _MORSE.finditer(text):
        out.append(
            " ".join("".join(_MORSE_CODE.get(c, "") for c in w.split()) for w in m.group(0).split("/"))
        )
    # Keep only readings that look like text (mostly printable letters and spaces), not binary noise.
    return [s for s in out if len(s) >= 6 and sum(c.isalpha() or c.isspace() for c in s) / len(s) > 0.85]


def _normalise(text: str) -> str:
    # Undo common spacing/leet obfuscation: zero-width characters, s p a c e d letters.
    text = re.sub(r"[\u200b-\u200f\u2060\ufeff]", "", text)
    return re.sub(r"\b(\w) (?=\w\b)", r"\1", text)


# Categories that hold only at some stages (the rest hold everywhere): documents may discuss unsafe things, what
# matters there is instructions to us; a reply or a document that names self-harm may well be the help; a user
# may ask what a command does, but a document that tells us to print a secret is an attack. A reply to the user
# is checked for harmful instructions and exfiltration links only: instruction-override and jailbreak phrasing in
# it attacks no one ("send a message to the agent", "turn on developer mode" were refused replies), and the
# prompt-leak patterns are requests, which match innocent prose in a reply and never the leaked prompt itself.
_TO_US: tuple[Stage, ...] = ("input", *DOCUMENTS)
CATEGORY_STAGES: dict[str, tuple[Stage, ...]] = {
    "unsafe": ("input", "output"),
    "self_harm": ("input",),
    "planted_command": DOCUMENTS,
    "script": DOCUMENTS,
    "runaway": DOCUMENTS,
    "injection": _TO_US,
    "jailbreak": _TO_US,
    "prompt_leak": _TO_US,
}


class PatternRail:
    """Regex rail: strong patterns block, weak ones mark the text unsure. Microseconds per check."""

    name = "patterns"

    def check(self, text: str, stage: Stage) -> Signal:
        normalised = _normalise(text)
        candidates = [text, normalised] if normalised != text else [text, ""]
        decoded = decoded_variants(text)
        candidates += decoded
        if len(text) <= 2000:
            # rot13 and reversed text cost microseconds on short texts: read every short text that way too.
            candidates += [codecs.decode(text, "rot13"), text[::-1]]
        for i, candidate in enumerate(candidates):
            for category, pattern in STRONG:
                if stage not in CATEGORY_STAGES.get(category, (stage,)):
                    continue
                match = pattern.search(candidate)
                if match:
                    where = " (in an encoded payload)" if i >= 2 else ""
                    return Signal(
                        self.name,
                        "block",
                        category,
                        1.0,
                        f"matched a known {category.replace('_', ' ')} phrasing{where}: {match.group(0)[:60]!r}",
                    )
        for category, pattern in WEAK:
            match = pattern.search(text)
            if match:
                return Signal(
                    self.name, "unsure", category, 0.5, f"suspicious phrasing: {match.group(0)[:60]!r}"
                )
        if decoded:
            return Signal(self.name, "unsure", "encoding", 0.5, "contains an encoded payload")
        return Signal(self.name, "allow")
