"""A small self-written corpus for bench/rag.py: fictional facts no model can know, and questions on them."""

from __future__ import annotations

DOCUMENTS = {
    "harbor-town.md": """# The town of Velmora

Velmora is a fishing town on the northern coast. Its lighthouse, built in 1873, is painted green and white.
The mayor of Velmora is Ilse Brandvik, who was elected after promising a new covered fish market.

The town's annual festival celebrates the return of the herring boats. It is called the Saltmoon Festival
and takes place on the first weekend of October. Visitors eat smoked herring on rye bread.

The harbor has forty-two moorings. Winter storms often close it for a week or more, and the ferry to the
island of Tarn then stops running. The ferry captain has worked the route for thirty years.
""",
    "lab-handbook.md": """# Handbook of the Orrin Materials Lab

New members must complete safety training before using the furnace room. The furnace room door code is
changed every month; ask the lab manager, Dr. Petra Lusk, for the current code.

The lab's electron microscope is nicknamed Old Kestrel. It must be booked at least two days in advance
through the shared calendar, and sessions are limited to four hours.

Chemical waste is collected every Thursday. Solvents go in the red containers, acids in the yellow ones.
Never pour anything down the sink in room 114.

The lab's main research topic is self-healing ceramics for turbine blades.
""",
    "product-spec.txt": """Product specification: the Quillfeather 3 tablet

The Quillfeather 3 has a 10.8 inch e-ink screen and weighs 412 grams. Its battery lasts about
nineteen days of typical reading. It charges over USB-C in two and a half hours.

The stylus is called the Nib Pro. It needs no battery and attaches magnetically to the left edge.

The tablet is sold in two colours, slate grey and birch white. The launch price is 349 euros.
Firmware updates arrive every six weeks. The codename of the hardware project was MARBLE-FINCH.
""",
    "garden-club.html": """<html><body><h1>Minutes of the Rosecliff Garden Club</h1>
<p>The club met in the library annex. Twelve members attended and the treasurer reported a surplus of
180 pounds, which will buy new tools for the community plot.</p>
<p>The prize for the largest pumpkin went to Mr. Okonkwo for a pumpkin of 61 kilograms.
It was named Big Clementine.</p>
<p>Next spring the club will plant a hedge of hawthorn along the east fence. Volunteers should bring
gloves. The next meeting is on the second Tuesday of March.</p>
</body></html>""",
}

#: (question, a string the answer must contain, case-insensitive)
QUESTIONS = [
    ("Who is the mayor of Velmora?", "Brandvik"),
    ("What is the name of Velmora's annual festival?", "Saltmoon"),
    ("In what year was the Velmora lighthouse built?", "1873"),
    ("How many moorings does the Velmora harbor have?", "forty-two"),
    ("What is the nickname of the Orrin lab's electron microscope?", "Kestrel"),
    ("Who is the lab manager of the Orrin Materials Lab?", "Lusk"),
    ("On which day is chemical waste collected in the Orrin lab?", "Thursday"),
    ("How much does the Quillfeather 3 tablet weigh?", "412"),
    ("What is the Quillfeather 3 stylus called?", "Nib Pro"),
    ("What was the codename of the Quillfeather hardware project?", "MARBLE-FINCH"),
    ("Who won the prize for the largest pumpkin at the Rosecliff Garden Club?", "Okonkwo"),
    ("What was the name of the prize-winning pumpkin?", "Clementine"),
]

#: Extra self-written filler (for indexing throughput and as distractors), generated deterministically.
TOPICS = ["railways", "bread baking", "river ecology", "chess openings", "bird migration", "tax forms", "glassblowing"]


def filler_document(paragraphs: int = 200) -> str:
    """A long, bland document: many paragraphs that compete with the real passages."""
    lines = []
    for i in range(paragraphs):
        topic = TOPICS[i % len(TOPICS)]
        lines.append(
            f"Section {i}. Notes on {topic}: the committee reviewed item {i * 7 % 97} and agreed to revisit "
            f"the matter of {TOPICS[(i + 3) % len(TOPICS)]} at a later meeting. Attendance was {10 + i % 13} people, "
            f"and the report on {topic} was filed under number {1000 + i}."
        )
    return "\n\n".join(lines)
