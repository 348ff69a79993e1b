"""Rules for goal hijacking and secret probing as seen in public injection games and datasets.

Covers "forget your previous tasks, your new task is", canary phrases ("I have been
PWNED", "access granted"), password and secret probing ("spell the password
backwards"), requests to summarise or list the bot's own instructions, the
"deceased grandmother" and "let's play a game" framings, and hidden HTML comments.
"""

from __future__ import annotations

from policy.injection.ruleset import rule_table

__all__ = ["HIJACK"]

TASKS = (
    r"(?:tasks?|assignments?|aufgaben?|auftrage?|taches?|tareas?|compiti|tarefas?|taken|"
    r"zadania|zadan|задач\w*|missions?)"
)
PROBE = (
    r"(?:backwards?|in reverse|reversed|letter by letter|one letter at a time|each letter|"
    r"spell(?:ed|ing)? (?:it|out)|as an acrostic|in a riddle|as a poem|encoded|in base64|"
    r"hint|first (?:letter|half|few letters)|with spaces between|character by character)"
)

HIJACK = rule_table(
    "override",
    [
        (
            4,
            "ignor disre forge vergi oubli olvid dimen esque verge zapom забу",
            r"\b(?:ignore|disregard|forget|vergiss|vergessen|oublie|olvida|dimentica|esqueca|"
            r"vergeet|zapomnij|забудь)\b[^.\n]{0,30}\b(?:all|any|every|your|the|previous|prior|"
            r"alle|deine|die|toutes|tes|les|todas|tus|las|tutti|tutte|i|le|todas|as|alle|je|"
            r"wszystkie|все)\b[^.\n]{0,25}" + TASKS + r"\b",
        ),
        (
            2,
            "vergi",
            r"\bvergiss (?:alles|das alles) (?:davor|zuvor|bisher\w*|vorher\w*|oben|"
            r"vorangegangen\w*)\b",
        ),
        (
            2,
            "konze focus conce now jetzt maint ahora",
            r"\b(?:konzentriere dich|focus|concentrate|concentre-toi|concentrate)\b[^.\n]{0,20}"
            r"\b(?:on|auf|sur|en|su)\b (?:your|deine|ta|tu|il tuo) (?:new|neue|nouvelle|nueva|"
            r"nuovo) " + TASKS,
        ),
        (
            2,
            "say print outpu respo reply write type",
            r"\b(?:say|print|output|respond with|reply with|write|type)\b[^.\n]{0,20}"
            r"['\"]?(?:access granted|i have been pwned|i have been hacked)\b",
        ),
        (
            2,
            "tell give show revea spell print what what's write reven",
            r"\b(?:tell|give|show|reveal|spell|print|what is|what's|write|say)\b(?: me| us)? "
            r"(?:the|your|its) (?:secret )?(?:password|passphrase|pass phrase|secret word|"
            r"secret key|secret code|secret phrase)\b[^.\n]{0,40}" + PROBE,
        ),
        (
            2,
            "your",
            r"\byour (?:password|passphrase|secret word|secret key|secret code|secret phrase)\b",
        ),
        (
            1,
            "passw passp secre",
            r"\b(?:password|passphrase|secret word|secret phrase)\b[^.\n]{0,40}" + PROBE,
        ),
        (
            2,
            "tell show give list summa print write repea expla descr",
            r"\b(?:tell|show|give|list|summari[sz]e|print|write|repeat|explain|describe)\b"
            r"(?: me| us)? (?:all |exactly )?(?:your|its) (?:own )?(?:instructions|rules|"
            r"guidelines|directives|prompt|configuration|programming|constraints|"
            r"system settings)\b",
        ),
        (
            2,
            "writt said typed state given",
            r"\b(?:written|said|typed|stated|given|told) (?:at|in) the (?:very )?(?:beginning|"
            r"start|top) of (?:this|the|our) (?:conversation|prompt|chat|document|context|"
            r"session)\b",
        ),
        (
            2,
            "begin start",
            r"\b(?:beginning|begin|start|starting)\b (?:with|by|your (?:answer|response) with) "
            r"(?:the (?:phrase|words|sentence|text) )?['\"]?(?:you are|my instructions|i was "
            r"instructed|the system prompt|your instructions)",
        ),
        (
            2,
            "decea dead late grand",
            r"\b(?:deceased|dead|late|passed away)\b[^.\n]{0,15}\b(?:grandm\w*|grandma|granny|"
            r"grandpa|grandfather|grandmother)\b|\bgrand(?:ma|mother|pa|father)\b[^.\n]{0,30}"
            r"\b(?:used to|would)\b[^.\n]{0,40}\b(?:tell|read|recite|whisper|sing)\b",
        ),
        (1, "let", r"\blet'?s play a (?:game|role-?play)\b"),
        (
            2,
            "break bend ignor",
            r"\b(?:break|bend|ignore|bypass)\b (?:the (?:fuckin'? |fucking |damn |stupid )|all "
            r"(?:the )?|your |every |any )(?:rules|laws|guidelines|restrictions)\b",
        ),
        (1, "moral", r"\bmorali[sz]ing (?:rant|lecture|warning)\b"),
        (
            1,
            "when if while summa read proce trans",
            r"\b(?:when|if|while|before) (?:you )?(?:summari[sz]\w*|read\w*|process\w*|"
            r"translat\w*|analy[sz]\w*) (?:this|the) (?:page|document|email|e-mail|text|file|"
            r"article|message|website|pdf)\b",
        ),
        (1, "=<!--", r"<!--[^>]{0,200}\b(?:ignore|instruction|assistant|ai|system|prompt)\b"),
        (2, "syste sys admin devel", r"\[(?:system|sys|admin|developer|system message)\]"),
    ],
    prefix="hijack",
)
