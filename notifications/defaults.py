"""The built-in wording of every trigger in English and Greek, and the layouts around it.

A channel's templates (``MessageTemplate``) replace any part of this; a blank part keeps the built-in
one. Every template is Django template language over the context described in ``CONTEXT_HELP``.
"""

from pathlib import Path

from notifications.models import Trigger

CONTEXT_HELP = (
    "brand.name, brand.logo_url, brand.colour; customer.first_name, customer.name; order.reference (the "
    "shop's order number), order.number (ours), order.placed_at, order.lines (name, sku, quantity); "
    "tracking_url; shipment.carrier, shipment.tracking_number, estimate (a date or empty); "
    "expected_date (backorders); reason; ret.number, ret.url, ret.label_url, ret.amount, ret.currency; "
    "unsubscribe_url (delivery updates only)."
)

# Each trigger: subject, the body's paragraphs (shared by the HTML and the plain text), a call to action
# (label and the context variable holding its address) and the SMS.
WORDING: dict[str, dict[str, dict[str, str]]] = {
    Trigger.ORDER_CONFIRMED: {
        "en": {
            "subject": "Order {{ order.reference }} confirmed",
            "body": "Hi {{ customer.first_name|default:'there' }},\n\nthank you for your order "
            "{{ order.reference }}. We have reserved your items and are preparing them for shipping; "
            "we will write again when the parcel is on its way.",
            "cta": "Follow your order",
            "sms": "{{ brand.name }}: order {{ order.reference }} confirmed. We will text you when it ships.",
        },
        "el": {
            "subject": "Η παραγγελία {{ order.reference }} επιβεβαιώθηκε",
            "body": "Γεια σας {{ customer.first_name }},\n\nσας ευχαριστούμε για την παραγγελία "
            "{{ order.reference }}. Δεσμεύσαμε τα προϊόντα σας και τα ετοιμάζουμε για αποστολή· θα σας "
            "γράψουμε ξανά μόλις το δέμα ξεκινήσει.",
            "cta": "Παρακολούθηση παραγγελίας",
            "sms": "{{ brand.name }}: η παραγγελία {{ order.reference }} επιβεβαιώθηκε.",
        },
    },
    Trigger.ORDER_BACKORDERED: {
        "en": {
            "subject": "Order {{ order.reference }}: some items are on their way to us",
            "body": "Hi {{ customer.first_name|default:'there' }},\n\nsome items of your order "
            "{{ order.reference }} are not in stock right now."
            "{% if expected_date %} We expect them by {{ expected_date|date:'j F' }}.{% endif %} "
            "We will ship as soon as they arrive and tell you when the parcel leaves.",
            "cta": "Follow your order",
            "sms": "{{ brand.name }}: order {{ order.reference }} waits for stock"
            "{% if expected_date %}, expected {{ expected_date|date:'j M' }}{% endif %}.",
        },
        "el": {
            "subject": "Παραγγελία {{ order.reference }}: κάποια προϊόντα έρχονται σε εμάς",
            "body": "Γεια σας {{ customer.first_name }},\n\nκάποια προϊόντα της παραγγελίας "
            "{{ order.reference }} δεν είναι διαθέσιμα αυτή τη στιγμή."
            "{% if expected_date %} Τα περιμένουμε έως {{ expected_date|date:'j/n' }}.{% endif %} "
            "Θα τα στείλουμε μόλις φτάσουν.",
            "cta": "Παρακολούθηση παραγγελίας",
            "sms": "{{ brand.name }}: η παραγγελία {{ order.reference }} περιμένει απόθεμα.",
        },
    },
    Trigger.ORDER_CANCELLED: {
        "en": {
            "subject": "Order {{ order.reference }} cancelled",
            "body": "Hi {{ customer.first_name|default:'there' }},\n\nyour order {{ order.reference }} "
            "has been cancelled{% if reason %} ({{ reason }}){% endif %}. Anything you paid for items "
            "that were not sent is refunded to you.",
            "cta": "",
            "sms": "{{ brand.name }}: order {{ order.reference }} was cancelled.",
        },
        "el": {
            "subject": "Η παραγγελία {{ order.reference }} ακυρώθηκε",
            "body": "Γεια σας {{ customer.first_name }},\n\nη παραγγελία σας {{ order.reference }} "
            "ακυρώθηκε{% if reason %} ({{ reason }}){% endif %}. Ό,τι πληρώσατε για προϊόντα που δεν "
            "στάλθηκαν σας επιστρέφεται.",
            "cta": "",
            "sms": "{{ brand.name }}: η παραγγελία {{ order.reference }} ακυρώθηκε.",
        },
    },
    Trigger.SHIPPED: {
        "en": {
            "subject": "Your order {{ order.reference }} is on its way",
            "body": "Good news, {{ customer.first_name|default:'there' }}: your parcel left our warehouse "
            "with {{ shipment.carrier }}{% if shipment.tracking_number %} (tracking number "
            "{{ shipment.tracking_number }}){% endif %}."
            "{% if estimate %} It should arrive on {{ estimate|date:'l j F' }}.{% endif %}",
            "cta": "Track your parcel",
            "sms": "{{ brand.name }}: order {{ order.reference }} shipped"
            "{% if estimate %}, arrives {{ estimate|date:'D j M' }}{% endif %}. {{ tracking_url }}",
        },
        "el": {
            "subject": "Η παραγγελία σας {{ order.reference }} ξεκίνησε",
            "body": "Καλά νέα, {{ customer.first_name }}: το δέμα σας έφυγε από την αποθήκη μας με "
            "{{ shipment.carrier }}{% if shipment.tracking_number %} (αριθμός αποστολής "
            "{{ shipment.tracking_number }}){% endif %}."
            "{% if estimate %} Αναμένεται στις {{ estimate|date:'j/n' }}.{% endif %}",
            "cta": "Παρακολούθηση δέματος",
            "sms": "{{ brand.name }}: η παραγγελία {{ order.reference }} στάλθηκε. {{ tracking_url }}",
        },
    },
    Trigger.OUT_FOR_DELIVERY: {
        "en": {
            "subject": "Your parcel for order {{ order.reference }} arrives today",
            "body": "Hi {{ customer.first_name|default:'there' }},\n\nyour parcel for order "
            "{{ order.reference }} is out for delivery with {{ shipment.carrier }} and should reach "
            "you today.",
            "cta": "Track your parcel",
            "sms": "{{ brand.name }}: your parcel ({{ order.reference }}) arrives today. {{ tracking_url }}",
        },
        "el": {
            "subject": "Το δέμα της παραγγελίας {{ order.reference }} έρχεται σήμερα",
            "body": "Γεια σας {{ customer.first_name }},\n\nτο δέμα της παραγγελίας {{ order.reference }} "
            "βγήκε για παράδοση με {{ shipment.carrier }} και θα σας έρθει σήμερα.",
            "cta": "Παρακολούθηση δέματος",
            "sms": "{{ brand.name }}: το δέμα σας ({{ order.reference }}) έρχεται σήμερα. {{ tracking_url }}",
        },
    },
    Trigger.DELIVERY_ATTEMPTED: {
        "en": {
            "subject": "We missed you: parcel for order {{ order.reference }}",
            "body": "Hi {{ customer.first_name|default:'there' }},\n\n{{ shipment.carrier }} tried to "
            "deliver your parcel but could not.{% if reason %} The carrier says: {{ reason }}.{% endif %} "
            "They will try again; the tracking page shows the next step.",
            "cta": "See what happens next",
            "sms": "{{ brand.name }}: the carrier could not deliver order {{ order.reference }}. "
            "Next steps: {{ tracking_url }}",
        },
        "el": {
            "subject": "Δεν σας βρήκαμε: δέμα της παραγγελίας {{ order.reference }}",
            "body": "Γεια σας {{ customer.first_name }},\n\nη {{ shipment.carrier }} προσπάθησε να "
            "παραδώσει το δέμα σας χωρίς επιτυχία.{% if reason %} Ο μεταφορέας αναφέρει: {{ reason }}."
            "{% endif %} Θα γίνει νέα προσπάθεια· δείτε τα επόμενα βήματα στη σελίδα παρακολούθησης.",
            "cta": "Επόμενα βήματα",
            "sms": "{{ brand.name }}: αποτυχία παράδοσης για {{ order.reference }}. {{ tracking_url }}",
        },
    },
    Trigger.DELIVERED: {
        "en": {
            "subject": "Delivered: order {{ order.reference }}",
            "body": "Hi {{ customer.first_name|default:'there' }},\n\nyour parcel for order "
            "{{ order.reference }} has been delivered. We hope you enjoy it; if something is not right, "
            "you can send it back from the tracking page.",
            "cta": "Your order",
            "sms": "{{ brand.name }}: order {{ order.reference }} delivered.",
        },
        "el": {
            "subject": "Παραδόθηκε: παραγγελία {{ order.reference }}",
            "body": "Γεια σας {{ customer.first_name }},\n\nτο δέμα της παραγγελίας {{ order.reference }} "
            "παραδόθηκε. Αν κάτι δεν είναι σωστό, μπορείτε να το επιστρέψετε από τη σελίδα "
            "παρακολούθησης.",
            "cta": "Η παραγγελία σας",
            "sms": "{{ brand.name }}: η παραγγελία {{ order.reference }} παραδόθηκε.",
        },
    },
    Trigger.DELAYED: {
        "en": {
            "subject": "Order {{ order.reference }} is running late",
            "body": "Hi {{ customer.first_name|default:'there' }},\n\nyour parcel with "
            "{{ shipment.carrier }} is taking longer than planned."
            "{% if estimate %} It should now arrive on {{ estimate|date:'l j F' }}.{% endif %} "
            "We are watching it and will tell you if anything changes. Sorry for the wait.",
            "cta": "Track your parcel",
            "sms": "{{ brand.name }}: order {{ order.reference }} is delayed"
            "{% if estimate %}, now expected {{ estimate|date:'D j M' }}{% endif %}. {{ tracking_url }}",
        },
        "el": {
            "subject": "Καθυστέρηση στην παραγγελία {{ order.reference }}",
            "body": "Γεια σας {{ customer.first_name }},\n\nτο δέμα σας με {{ shipment.carrier }} "
            "καθυστερεί.{% if estimate %} Αναμένεται πλέον στις {{ estimate|date:'j/n' }}.{% endif %} "
            "Το παρακολουθούμε και θα σας ενημερώσουμε. Ζητούμε συγγνώμη για την αναμονή.",
            "cta": "Παρακολούθηση δέματος",
            "sms": "{{ brand.name }}: καθυστέρηση στην παραγγελία {{ order.reference }}. {{ tracking_url }}",
        },
    },
    Trigger.EXCEPTION: {
        "en": {
            "subject": "A problem with the delivery of order {{ order.reference }}",
            "body": "Hi {{ customer.first_name|default:'there' }},\n\nthe carrier reports a problem with "
            "your parcel{% if reason %}: {{ reason }}{% endif %}. We are on it and will write as soon as "
            "we know more.",
            "cta": "Track your parcel",
            "sms": "{{ brand.name }}: a problem with the delivery of {{ order.reference }}; we are on it. "
            "{{ tracking_url }}",
        },
        "el": {
            "subject": "Πρόβλημα στην παράδοση της παραγγελίας {{ order.reference }}",
            "body": "Γεια σας {{ customer.first_name }},\n\nο μεταφορέας αναφέρει πρόβλημα με το δέμα σας"
            "{% if reason %}: {{ reason }}{% endif %}. Το εξετάζουμε και θα σας γράψουμε σύντομα.",
            "cta": "Παρακολούθηση δέματος",
            "sms": "{{ brand.name }}: πρόβλημα στην παράδοση της {{ order.reference }}. {{ tracking_url }}",
        },
    },
    Trigger.RETURN_AUTHORISED: {
        "en": {
            "subject": "Return {{ ret.number }} accepted",
            "body": "Hi {{ customer.first_name|default:'there' }},\n\nwe accepted your return "
            "{{ ret.number }}.{% if ret.label_url %} Print the prepaid label, stick it on the parcel and "
            "hand it to the carrier.{% else %} Please send the items back to us with the return number "
            "inside the parcel.{% endif %}",
            "cta": "{% if ret.label_url %}Print your label{% else %}Your return{% endif %}",
            "sms": "{{ brand.name }}: return {{ ret.number }} accepted. {{ ret.url }}",
        },
        "el": {
            "subject": "Η επιστροφή {{ ret.number }} εγκρίθηκε",
            "body": "Γεια σας {{ customer.first_name }},\n\nεγκρίναμε την επιστροφή {{ ret.number }}."
            "{% if ret.label_url %} Εκτυπώστε την προπληρωμένη ετικέτα, κολλήστε τη στο δέμα και "
            "παραδώστε το στον μεταφορέα.{% else %} Στείλτε μας τα προϊόντα με τον αριθμό επιστροφής "
            "μέσα στο δέμα.{% endif %}",
            "cta": "{% if ret.label_url %}Εκτύπωση ετικέτας{% else %}Η επιστροφή σας{% endif %}",
            "sms": "{{ brand.name }}: η επιστροφή {{ ret.number }} εγκρίθηκε. {{ ret.url }}",
        },
    },
    Trigger.RETURN_REJECTED: {
        "en": {
            "subject": "Return {{ ret.number }} could not be accepted",
            "body": "Hi {{ customer.first_name|default:'there' }},\n\nwe are sorry: we cannot accept "
            "return {{ ret.number }}{% if reason %} because {{ reason }}{% endif %}. Reply to this "
            "e-mail if you think this is wrong.",
            "cta": "",
            "sms": "{{ brand.name }}: return {{ ret.number }} was not accepted{% if reason %}: "
            "{{ reason }}{% endif %}.",
        },
        "el": {
            "subject": "Η επιστροφή {{ ret.number }} δεν έγινε δεκτή",
            "body": "Γεια σας {{ customer.first_name }},\n\nλυπούμαστε: η επιστροφή {{ ret.number }} "
            "δεν μπορεί να γίνει δεκτή{% if reason %}, γιατί {{ reason }}{% endif %}. Απαντήστε σε αυτό "
            "το μήνυμα αν πιστεύετε ότι έγινε λάθος.",
            "cta": "",
            "sms": "{{ brand.name }}: η επιστροφή {{ ret.number }} δεν έγινε δεκτή.",
        },
    },
    Trigger.RETURN_RECEIVED: {
        "en": {
            "subject": "We received your return {{ ret.number }}",
            "body": "Hi {{ customer.first_name|default:'there' }},\n\nyour return {{ ret.number }} "
            "arrived at our warehouse. We check the items and write again when your credit is issued.",
            "cta": "Your return",
            "sms": "{{ brand.name }}: we received return {{ ret.number }}.",
        },
        "el": {
            "subject": "Παραλάβαμε την επιστροφή {{ ret.number }}",
            "body": "Γεια σας {{ customer.first_name }},\n\nη επιστροφή σας {{ ret.number }} έφτασε "
            "στην αποθήκη μας. Ελέγχουμε τα προϊόντα και θα σας γράψουμε όταν εκδοθεί η πίστωση.",
            "cta": "Η επιστροφή σας",
            "sms": "{{ brand.name }}: παραλάβαμε την επιστροφή {{ ret.number }}.",
        },
    },
    Trigger.RETURN_CREDITED: {
        "en": {
            "subject": "Return {{ ret.number }}: {{ ret.amount }} {{ ret.currency }} credited",
            "body": "Hi {{ customer.first_name|default:'there' }},\n\nwe have checked your return "
            "{{ ret.number }} and credited {{ ret.amount }} {{ ret.currency }}. Depending on your "
            "payment method it shows on your account within a few days.",
            "cta": "Your return",
            "sms": "{{ brand.name }}: return {{ ret.number }} credited, {{ ret.amount }} {{ ret.currency }}.",
        },
        "el": {
            "subject": "Επιστροφή {{ ret.number }}: πιστώθηκαν {{ ret.amount }} {{ ret.currency }}",
            "body": "Γεια σας {{ customer.first_name }},\n\nελέγξαμε την επιστροφή {{ ret.number }} και "
            "πιστώσαμε {{ ret.amount }} {{ ret.currency }}. Ανάλογα με τον τρόπο πληρωμής, το ποσό "
            "εμφανίζεται στον λογαριασμό σας σε λίγες ημέρες.",
            "cta": "Η επιστροφή σας",
            "sms": "{{ brand.name }}: η επιστροφή {{ ret.number }} πιστώθηκε, "
            "{{ ret.amount }} {{ ret.currency }}.",
        },
    },
}

# Where each trigger's call to action leads.
CTA_TARGET = {
    Trigger.RETURN_AUTHORISED: "{% if ret.label_url %}{{ ret.label_url }}{% else %}{{ ret.url }}{% endif %}",
    Trigger.RETURN_RECEIVED: "{{ ret.url }}",
    Trigger.RETURN_CREDITED: "{{ ret.url }}",
}

FOOTER = {
    "en": {
        "why": "You receive this message because you ordered from {{ brand.name }}.",
        "unsubscribe": "Stop delivery updates",
    },
    "el": {
        "why": "Λαμβάνετε αυτό το μήνυμα επειδή παραγγείλατε από {{ brand.name }}.",
        "unsubscribe": "Διακοπή ενημερώσεων αποστολής",
    },
}

# The e-mail's frame: a table layout mail clients render alike; [[...]] are filled per trigger.
HTML_LAYOUT = (Path(__file__).parent / "email_layout.html").read_text(encoding="utf-8")

CTA_HTML = (
    '<p style="margin:24px 0"><a href="[[target]]" style="background:{{ brand.colour }};color:#ffffff;'
    'padding:10px 18px;border-radius:4px;text-decoration:none;display:inline-block">[[label]]</a></p>'
)

LINES_HTML = (
    '{% if order.lines %}<table role="presentation" style="margin-top:16px;font-size:14px;color:#374151">'
    '{% for line in order.lines %}<tr><td style="padding:2px 12px 2px 0">{{ line.quantity }} ×</td>'
    "<td>{{ line.name }}</td></tr>{% endfor %}</table>{% endif %}"
)


def default_parts(trigger: str, language: str) -> dict[str, str]:
    """The built-in subject, HTML, text and SMS of a trigger in a language (English when the language
    has no wording)."""
    words = WORDING[trigger].get(language) or WORDING[trigger]["en"]
    footer = FOOTER.get(language) or FOOTER["en"]
    target = CTA_TARGET.get(trigger, "{{ tracking_url }}")
    paragraphs = [p.strip() for p in words["body"].split("\n\n")]
    cta_html = ""
    cta_text = ""
    if words["cta"]:
        cta_html = CTA_HTML.replace("[[target]]", target).replace("[[label]]", words["cta"])
        cta_text = f"{words['cta']}: {target}"
    html = (
        HTML_LAYOUT.replace("[[lang]]", language)
        .replace("[[subject]]", words["subject"])
        .replace("[[paragraphs]]", "\n".join(f'<p style="margin:0 0 12px">{p}</p>' for p in paragraphs))
        .replace("[[cta]]", cta_html)
        .replace("[[lines]]", LINES_HTML if trigger.startswith("order_") or trigger == "shipped" else "")
        .replace("[[why]]", footer["why"])
        .replace("[[unsubscribe]]", footer["unsubscribe"])
    )
    text = "\n\n".join(
        [*paragraphs, *([cta_text] if cta_text else []), "-- \n{{ brand.name }}. " + footer["why"]]
    )
    text += "\n{% if unsubscribe_url %}" + footer["unsubscribe"] + ": {{ unsubscribe_url }}{% endif %}\n"
    return {"subject": words["subject"], "html": html, "text": text, "sms": words["sms"]}
