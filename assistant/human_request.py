"""A customer who asks for a person gets one, whatever the dialog model makes of the message.

The policy (tau-bench's, tools/customer_service.py) says: transfer when the customer explicitly
asks for a human agent. The small dialog model answered "Can I please speak to a real person?"
with a knowledge search (bench/tasks.py, 0 of 2 hand-offs), and a customer who asks for a
person and does not get one is the failure support teams fear most. So the agent recognises an
explicit request itself and makes the transfer call the model should have made; everything else
still goes to the model. The patterns favour precision: a false hand-off costs an operator a
look, a missed one is caught by the model's own transfer call. Measured on Bitext's held-out
dev.csv in BENCHMARKS.md ("Hand-off requests").
"""

from __future__ import annotations

import re

_PERSON = (r"(?:human(?: being| agent)?s?|(?:real|live|actual) (?:person|agent|people|human|one"
           r"|employee)|person|somebody|someone(?: real)?|agent|representative|rep|operator"
           r"|assistant|specialist|(?:support )?staff(?: member)?|member of (?:the )?(?:staff|team)"
           r"|employee|manager|supervisor|customer (?:service|support) (?:agent|staff"
           r"|representative|person))")
_REACH = (r"(?:speak|talk|chat|discuss|connect|transfer|escalate|put (?:me )?through"
          r"|hand (?:me )?over|pass (?:me )?(?:on|over)|contact|reach|call)")
_STRONG = (r"(?:human(?: being)?|(?:real|live|actual) (?:person|agent|human|employee)"
           r"|representative|someone real)")
_ASKS = [
    # "speak to a real person", "transfer me to support staff", "chat with a damn agent"
    re.compile(rf"\b{_REACH}\w*\b(?:\W+\w+){{0,3}}?\W+{_PERSON}\b"),
    # "I want a real agent", "need a human", "give me someone real"
    re.compile(rf"\b(?:want|need|would like|prefer|give me|get me)\b(?:\W+\w+){{0,3}}?\W+"
               rf"{_STRONG}\b"),
    # "a complaint with a human being", "over to a live agent"
    re.compile(rf"\b(?:with|to) (?:a |an )?{_STRONG}\b"),
    # "is there a human I can talk to?", "could a member of staff take over"
    re.compile(rf"\b{_PERSON}\b(?:\W+\w+){{0,3}}?\W+(?:talk|speak|chat|take over)\b"),
]
# a sentence that is only the person ("human", "agent please", "representative!!")
_ALONE = re.compile(rf"^\W*(?:(?:a|an|the|get|speak to|talk to)\s+)?{_PERSON}(?:\s+(?:please|"
                    rf"pls|now|asap))?\W*$")
# "I don't want an agent", "no need to talk to anyone", "are you a real person?"
_NOT = re.compile(rf"\b(?:don'?t|do not|dont|no need to|never)\s+(?:want|need|wish)\b"
                  rf"(?:\W+\w+){{0,3}}?\W+(?:{_REACH}|{_PERSON})\b"
                  r"|\b(?:are you|am i (?:talking|chatting) (?:to|with))\b(?:\W+\w+){0,2}?\W+"
                  r"(?:human|bot|robot|real|person)")
_CHINESE = re.compile(r"人工|真人|客服人员|转接|主管|专员|工作人员|叫个客服|找客服|不想跟机器人")
_NOT_CHINESE = re.compile(r"(?:不要|不用|不需要)转?人工|你是(?:不是)?真人|是真人吗")


def asks_for_a_person(text: str) -> bool:
    """Whether a customer's message explicitly asks to be handed to a person."""
    lower = " ".join(text.lower().split())
    if _CHINESE.search(lower):
        return not _NOT_CHINESE.search(lower)
    if _NOT.search(lower):
        return False
    sentences = re.split(r"(?<=[.!?])\s+", lower)
    return any(_ALONE.match(s) for s in sentences) or any(a.search(lower) for a in _ASKS)
