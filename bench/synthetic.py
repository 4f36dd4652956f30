"""Large-catalog benchmark (not a test): a seeded synthetic catalog shaped like a community tool
registry, its index build time and size, route latency, and HNSW quality against an exact index.

    python bench/synthetic.py                  # 100,000 skills with the default policy
    python bench/synthetic.py --skills 10000   # a quick run (--hnsw-above 5000 for HNSW)
    python bench/synthetic.py --policy P.yaml  # any routing policy (the flags override it)

Skills combine domains, objects, verbs, providers, qualifiers and parameter sets into names in
several conventions, descriptions, JSON-Schema parameters and short bodies; the same operation
offered by several providers (or as a v2 / reworded copy) forms a near-duplicate family, as in
real registries. Queries are held-out paraphrases (verb and object synonyms, filled-in slot
values) of randomly chosen skills; a hit is any member of the skill's family. The router's index
(HNSW above ``routing.index.hnsw_above`` vectors) is compared with an exact flat index over the
same vectors in the same run. Prints a table and writes JSON to bench/results/synthetic.json.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from orchestrator.catalog import Skill
from orchestrator.policy import load_policy
from orchestrator.routing import SkillIndex, SkillRouter, embedder_for

RESULTS = Path(__file__).resolve().parent / "results"

# ------------------------------------------------------------------ vocabulary
# domain -> (providers, objects); an object is "name:field,field,..." (its own attributes).
DOMAINS: dict[str, tuple[list[str], list[str]]] = {
    "payments": (
        ["stripe", "paypal", "adyen", "square", "braintree", "mollie", "razorpay"],
        [
            "refund:amount,currency,reason,charge id",
            "invoice:customer id,due date,line items,currency,memo",
            "customer:email,name,phone,billing address",
            "subscription:plan id,customer id,trial days,quantity",
            "payout:amount,currency,destination account",
            "payment intent:amount,currency,payment method,capture method",
            "dispute:charge id,evidence,status",
            "coupon:percent off,duration,max redemptions",
        ],
    ),
    "crm": (
        ["salesforce", "hubspot", "pipedrive", "zoho", "dynamics", "close", "copper"],
        [
            "contact:first name,last name,email,company,owner id",
            "deal:title,value,stage,expected close date,owner id",
            "lead:email,source,status,score",
            "account:name,industry,website,employee count",
            "opportunity:name,amount,probability,close date",
            "note:body,related record id,author",
            "pipeline:name,stages,currency",
        ],
    ),
    "calendar": (
        ["google calendar", "outlook", "calendly", "cal.com", "zoho calendar"],
        [
            "event:title,start time,end time,attendees,location,timezone",
            "meeting room:name,capacity,building,floor",
            "availability:user id,start date,end date,duration minutes",
            "reminder:event id,minutes before,channel",
            "recurring event:title,rrule,start time,timezone",
        ],
    ),
    "email": (
        ["gmail", "outlook mail", "sendgrid", "mailgun", "postmark", "amazon ses"],
        [
            "email:to,subject,body,cc,attachments",
            "draft:to,subject,body",
            "mailbox folder:name,parent folder",
            "email template:name,subject,html body,variables",
            "contact list:name,description,double opt in",
            "bounce:email address,since,bounce type",
        ],
    ),
    "storage": (
        ["amazon s3", "google drive", "dropbox", "box", "onedrive", "azure blob", "backblaze"],
        [
            "file:path,content,mime type,overwrite",
            "folder:path,parent id,recursive",
            "bucket:name,region,versioning,public access",
            "share link:file id,expires at,permission",
            "file version:file id,version id",
            "file permission:file id,user email,role",
        ],
    ),
    "weather": (
        ["openweathermap", "weatherapi", "tomorrow.io", "accuweather", "met office", "noaa"],
        [
            "current weather:city,latitude,longitude,units",
            "forecast:city,days,units,hourly",
            "air quality index:city,latitude,longitude",
            "weather alert:region,severity",
            "historical weather:city,date,units",
            "uv index:latitude,longitude,date",
        ],
    ),
    "maps": (
        ["google maps", "mapbox", "here", "openstreetmap", "tomtom", "bing maps"],
        [
            "route:origin,destination,travel mode,avoid tolls",
            "geocode:address,country,language",
            "place:query,latitude,longitude,radius,category",
            "distance matrix:origins,destinations,travel mode",
            "timezone:latitude,longitude,timestamp",
            "elevation:latitude,longitude",
        ],
    ),
    "code hosting": (
        ["github", "gitlab", "bitbucket", "gitea", "azure repos"],
        [
            "issue:repository,title,body,labels,assignee",
            "pull request:repository,title,head branch,base branch,draft",
            "repository:name,owner,visibility,description",
            "branch:repository,name,from ref",
            "release:repository,tag,name,notes,prerelease",
            "commit:repository,sha,path",
            "review comment:pull request number,body,path,line",
            "webhook:repository,url,events,secret",
        ],
    ),
    "ci": (
        ["github actions", "circleci", "jenkins", "gitlab ci", "buildkite", "travis ci"],
        [
            "pipeline run:project,branch,parameters",
            "build job:project,job name,build number",
            "build artifact:project,build number,path",
            "build log:project,build number,step",
            "deployment:environment,version,service",
            "test report:project,build number,format",
        ],
    ),
    "monitoring": (
        ["datadog", "new relic", "prometheus", "grafana", "sentry", "pagerduty", "opsgenie"],
        [
            "alert:name,query,threshold,severity,notify",
            "incident:title,service,urgency,assignee",
            "metric:name,query,start time,end time,step",
            "dashboard:title,widgets,layout",
            "on-call schedule:team,start date,end date",
            "error event:project,issue id,environment",
            "log query:query,start time,end time,limit",
        ],
    ),
    "database": (
        ["postgres", "mysql", "mongodb", "dynamodb", "snowflake", "bigquery", "supabase"],
        [
            "table:name,schema,columns",
            "row:table,values,primary key",
            "query result:sql,parameters,timeout seconds",
            "database backup:database,retention days,label",
            "index:table,columns,unique",
            "database user:username,role,password",
        ],
    ),
    "ecommerce": (
        ["shopify", "woocommerce", "bigcommerce", "magento", "amazon seller", "etsy"],
        [
            "product:title,price,sku,inventory quantity,description",
            "order:order id,customer id,line items,shipping address",
            "cart:customer id,items,discount code",
            "product review:product id,rating,body,author",
            "inventory level:sku,location id,quantity",
            "discount code:code,percent off,starts at,ends at",
            "collection:title,product ids,sort order",
        ],
    ),
    "shipping": (
        ["ups", "fedex", "dhl", "usps", "shippo", "easypost"],
        [
            "shipment:from address,to address,weight kg,service level",
            "shipping label:shipment id,format,size",
            "tracking status:tracking number,carrier",
            "shipping rate:from postal code,to postal code,weight kg,dimensions",
            "pickup:address,date,package count",
            "customs declaration:contents,value,origin country",
        ],
    ),
    "hr": (
        ["workday", "bamboohr", "personio", "gusto", "rippling", "deel"],
        [
            "employee:first name,last name,email,department,start date",
            "time off request:employee id,start date,end date,type",
            "payroll run:pay period,company id",
            "job posting:title,department,location,salary range",
            "candidate:name,email,resume url,job id",
            "performance review:employee id,reviewer id,period",
        ],
    ),
    "accounting": (
        ["quickbooks", "xero", "freshbooks", "netsuite", "sage", "wave"],
        [
            "bill:vendor id,amount,due date,currency",
            "expense:amount,category,date,receipt url",
            "journal entry:date,lines,memo",
            "vendor:name,email,tax id",
            "tax rate:name,rate,jurisdiction",
            "bank transaction:account id,amount,date,description",
            "balance sheet:as of date,currency",
        ],
    ),
    "travel": (
        ["amadeus", "skyscanner", "booking.com", "expedia", "airbnb", "kayak"],
        [
            "flight:origin,destination,departure date,return date,passengers,cabin class",
            "hotel:city,check in,check out,guests,rooms",
            "car rental:pickup location,pickup date,return date,car class",
            "booking:booking id,traveler name,email",
            "seat map:flight number,date",
            "fare alert:origin,destination,max price",
        ],
    ),
    "music": (
        ["spotify", "apple music", "deezer", "soundcloud", "tidal", "youtube music"],
        [
            "playlist:name,description,public,track ids",
            "track:title,artist,album",
            "album:title,artist,release year",
            "playback:device id,track uri,position ms",
            "artist:name,genre",
            "lyrics:track title,artist",
        ],
    ),
    "video": (
        ["youtube", "vimeo", "twitch", "mux", "wistia"],
        [
            "video:title,description,file url,privacy",
            "live stream:title,scheduled start,latency mode",
            "video comment:video id,text,parent id",
            "caption track:video id,language,file url",
            "channel:name,description,country",
            "video analytics:video id,start date,end date,metrics",
        ],
    ),
    "social": (
        ["twitter", "linkedin", "facebook", "instagram", "mastodon", "reddit", "tiktok"],
        [
            "post:text,media urls,scheduled time,visibility",
            "comment:post id,text",
            "follower:user id,cursor",
            "direct message:recipient id,text",
            "profile:user id,fields",
            "hashtag:tag,since",
        ],
    ),
    "messaging": (
        ["slack", "microsoft teams", "discord", "telegram", "whatsapp", "twilio", "mattermost"],
        [
            "message:channel,text,thread id,attachments",
            "channel:name,private,topic,members",
            "sms:to number,from number,body",
            "reaction:message id,emoji",
            "user status:user id,status text,emoji,expiration",
            "call:to number,from number,recording",
        ],
    ),
    "smart home": (
        ["home assistant", "smartthings", "philips hue", "nest", "ecobee", "tuya"],
        [
            "light:device id,brightness,color,on",
            "thermostat:device id,target temperature,mode",
            "door lock:device id,locked,code",
            "camera snapshot:camera id,resolution",
            "scene:name,devices,transition seconds",
            "energy usage:device id,start date,end date",
        ],
    ),
    "security": (
        ["okta", "auth0", "crowdstrike", "1password", "hashicorp vault", "snyk", "cloudflare"],
        [
            "user account:email,first name,last name,groups",
            "api key:name,scopes,expires at",
            "secret:path,value,ttl",
            "vulnerability:project id,severity,package",
            "firewall rule:action,source ip,destination port,protocol",
            "audit log:actor,action,start time,end time",
            "mfa factor:user id,factor type",
        ],
    ),
    "search": (
        ["algolia", "elasticsearch", "bing search", "brave search", "serpapi", "typesense"],
        [
            "web result:query,count,country,safe search",
            "news article:query,from date,language,sort by",
            "search index:name,settings,primary key",
            "indexed document:index name,document id,fields",
            "image result:query,size,license",
            "synonym set:index name,synonyms",
        ],
    ),
    "translation": (
        ["deepl", "google translate", "azure translator", "amazon translate", "libretranslate"],
        [
            "text translation:text,source language,target language,formality",
            "document translation:file url,target language",
            "glossary:name,source language,target language,entries",
            "detected language:text",
            "supported language:display language",
        ],
    ),
    "documents": (
        ["notion", "confluence", "google docs", "coda", "quip", "dropbox paper"],
        [
            "page:title,parent id,content",
            "document:title,content,folder id",
            "database entry:database id,properties",
            "comment thread:page id,text,resolved",
            "template:name,content,variables",
            "page export:page id,format",
        ],
    ),
    "spreadsheets": (
        ["google sheets", "excel online", "airtable", "smartsheet", "zoho sheet"],
        [
            "worksheet:spreadsheet id,title,rows,columns",
            "cell range:spreadsheet id,range,values",
            "record:base id,table,fields",
            "formula:spreadsheet id,cell,expression",
            "chart:spreadsheet id,range,chart type",
            "pivot table:spreadsheet id,source range,rows,values",
        ],
    ),
    "project management": (
        ["jira", "asana", "trello", "linear", "clickup", "monday.com", "basecamp"],
        [
            "task:title,description,assignee,due date,priority",
            "project:name,key,lead,description",
            "sprint:board id,name,start date,end date,goal",
            "board:name,columns,team id",
            "epic:title,description,project key",
            "time entry:task id,duration minutes,date,note",
            "milestone:project id,title,due date",
        ],
    ),
    "support": (
        ["zendesk", "freshdesk", "intercom", "help scout", "front", "servicenow"],
        [
            "ticket:subject,description,requester email,priority,tags",
            "conversation:customer id,channel,message",
            "knowledge base article:title,body,section id,locale",
            "canned response:name,body,shortcut",
            "customer satisfaction rating:ticket id,score,comment",
            "sla policy:name,targets,conditions",
        ],
    ),
    "marketing": (
        ["mailchimp", "klaviyo", "marketo", "brevo", "activecampaign", "customer.io"],
        [
            "campaign:name,subject,audience id,send time",
            "audience segment:name,conditions",
            "subscriber:email,first name,tags,status",
            "landing page:title,url slug,template id",
            "ab test:campaign id,variants,metric",
            "automation workflow:name,trigger,steps",
        ],
    ),
    "advertising": (
        ["google ads", "meta ads", "linkedin ads", "tiktok ads", "microsoft ads"],
        [
            "ad campaign:name,budget,start date,objective",
            "ad group:campaign id,name,bid amount",
            "ad creative:headline,body,image url,call to action",
            "keyword:ad group id,text,match type",
            "ad performance report:campaign id,start date,end date,metrics",
            "conversion action:name,category,value",
        ],
    ),
    "healthcare": (
        ["epic fhir", "cerner", "athenahealth", "drchrono", "healthie"],
        [
            "patient:first name,last name,birth date,gender",
            "appointment:patient id,practitioner id,start time,reason",
            "prescription:patient id,medication,dosage,refills",
            "lab result:patient id,test code,date",
            "clinical note:patient id,encounter id,text",
            "insurance eligibility:patient id,payer id,service date",
        ],
    ),
    "education": (
        ["canvas", "moodle", "google classroom", "blackboard", "coursera"],
        [
            "course:name,code,term,instructor id",
            "assignment:course id,title,due date,points",
            "submission:assignment id,student id,file url",
            "grade:submission id,score,feedback",
            "enrollment:course id,student id,role",
            "quiz:course id,title,questions,time limit",
        ],
    ),
    "real estate": (
        ["zillow", "realtor.com", "redfin", "rightmove", "idealista"],
        [
            "property listing:city,min price,max price,bedrooms,property type",
            "home valuation:address,zip code",
            "open house:listing id,date,start time",
            "mortgage rate:loan type,credit score,zip code",
            "rental listing:city,max rent,bedrooms,pets allowed",
        ],
    ),
    "sports": (
        ["espn", "sportradar", "api-football", "nba stats", "the odds api"],
        [
            "match score:league,team,date",
            "league standing:league,season",
            "player stat:player name,season,stat type",
            "fixture:league,team,from date,to date",
            "betting odd:sport,event id,market",
            "team roster:team,season",
        ],
    ),
    "finance data": (
        ["alpha vantage", "polygon", "yahoo finance", "iex cloud", "finnhub", "twelve data"],
        [
            "stock quote:symbol,exchange",
            "price history:symbol,start date,end date,interval",
            "exchange rate:base currency,quote currency,date",
            "company financials:symbol,period,statement",
            "earnings calendar:from date,to date,symbol",
            "crypto price:coin,vs currency",
            "portfolio position:account id,symbol",
        ],
    ),
    "ai services": (
        ["openai", "anthropic", "cohere", "hugging face", "replicate", "stability ai"],
        [
            "text completion:prompt,model,max tokens,temperature",
            "embedding:input,model,dimensions",
            "image generation:prompt,size,style,negative prompt",
            "speech transcription:audio url,language,diarize",
            "text to speech audio:text,voice,format",
            "fine-tuning job:training file,model,epochs",
            "moderation result:input,categories",
        ],
    ),
    "cloud": (
        ["aws", "google cloud", "azure", "digitalocean", "hetzner", "linode", "vercel"],
        [
            "virtual machine:name,region,instance type,image",
            "dns record:zone,name,type,value,ttl",
            "load balancer:name,region,targets,listeners",
            "container service:cluster,service name,image,replicas",
            "serverless function:name,runtime,handler,memory mb",
            "cost report:start date,end date,group by",
            "ssl certificate:domain,validation method",
        ],
    ),
    "legal": (
        ["docusign", "hellosign", "pandadoc", "ironclad", "adobe sign"],
        [
            "signature request:document url,signer emails,subject,message",
            "contract:title,parties,effective date,template id",
            "envelope:envelope id,status",
            "signed document:envelope id,format",
            "clause:contract id,text,type",
        ],
    ),
    "food delivery": (
        ["doordash", "uber eats", "grubhub", "deliveroo", "just eat", "instacart"],
        [
            "restaurant:city,cuisine,rating,delivery fee max",
            "food order:restaurant id,items,delivery address,tip",
            "menu:restaurant id,category",
            "delivery quote:pickup address,dropoff address,items",
            "grocery item:query,store id,quantity",
        ],
    ),
}

# verb -> (description templates, query paraphrases (held out), params it adds, applies to)
# "{o}" is the object, "{os}" its plural, "{p}" the provider, "{d}" the domain.
VERBS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "create": (
        ["Create a new {o} in {p}.", "Creates a {o} record via the {p} API.", "Add a {o} to {p}."],
        [
            "make a new {o} with {slots}",
            "I need to set up a {o} ({slots})",
            "register another {o} for {slots}",
        ],
        ["fields"],
    ),
    "get": (
        ["Retrieve a single {o} by its id from {p}.", "Fetch the details of one {o} in {p}."],
        [
            "show me the {o} with id {id}",
            "look up {o} {id} and tell me everything about it",
            "pull up the info for {o} number {id}",
        ],
        ["id"],
    ),
    "list": (
        ["List {os} in {p}, with pagination.", "Return a page of {os} from {p}."],
        [
            "give me all the {os}, {limit} at a time",
            "enumerate every {o} we have",
            "what {os} are there? show the first {limit}",
        ],
        ["page"],
    ),
    "update": (
        ["Update fields of an existing {o} in {p}.", "Modify a {o} stored in {p}."],
        [
            "change the {field} of {o} {id}",
            "edit {o} {id} so that {field} is different",
            "patch {o} {id}: new {field}",
        ],
        ["id", "fields"],
    ),
    "delete": (
        ["Delete a {o} from {p}. This cannot be undone.", "Permanently remove a {o} in {p}."],
        [
            "get rid of {o} {id}",
            "erase the {o} {id} for good",
            "I want {o} {id} gone",
        ],
        ["id"],
    ),
    "search": (
        ["Search {os} in {p} by keyword and filters.", "Find {os} matching a query in {p}."],
        [
            "find any {o} mentioning '{term}'",
            "which {os} match {term}?",
            "look for {os} related to {term}",
        ],
        ["query", "page"],
    ),
    "export": (
        ["Export {os} from {p} as CSV or JSON.", "Download a bulk export of {os} from {p}."],
        [
            "dump all {os} to a {fmt} file",
            "I need a {fmt} extract of the {os}",
            "back up the {os} as {fmt}",
        ],
        ["format", "date range"],
    ),
    "import": (
        ["Import {os} into {p} from a CSV or JSON file.", "Bulk-load {os} into {p}."],
        [
            "upload this {fmt} file of {os}",
            "load a batch of {os} from {fmt}",
            "ingest {os} from a {fmt} spreadsheet",
        ],
        ["file", "format"],
    ),
    "archive": (
        ["Archive a {o} in {p} so it is hidden but kept.", "Move a {o} to the archive in {p}."],
        [
            "hide {o} {id} without deleting it",
            "shelve the {o} {id}",
            "put {o} {id} away in the archive",
        ],
        ["id"],
    ),
    "count": (
        ["Count {os} in {p} matching optional filters.", "Return the number of {os} in {p}."],
        [
            "how many {os} do we have?",
            "tell me the total number of {os} created since {date}",
            "what's the {o} count?",
        ],
        ["date range"],
    ),
    "subscribe": (
        [
            "Subscribe to change notifications for {os} in {p}.",
            "Register a webhook for {o} events in {p}.",
        ],
        [
            "notify {url} whenever a {o} changes",
            "alert me at {url} when {os} are modified",
            "watch {os} for updates and call {url}",
        ],
        ["callback"],
    ),
    "validate": (
        ["Validate a {o} payload against {p}'s rules.", "Check that a {o} is well-formed in {p}."],
        [
            "is this {o} valid? {slots}",
            "verify the {o} before saving: {slots}",
            "sanity-check a {o} with {slots}",
        ],
        ["fields"],
    ),
    "summarize": (
        ["Summarize recent {os} in {p} in plain language.", "Produce a digest of {os} in {p}."],
        [
            "give me a short overview of the {os} since {date}",
            "recap what happened with our {os} lately",
            "tl;dr of the {os} from {date}",
        ],
        ["date range"],
    ),
    "duplicate": (
        ["Duplicate an existing {o} in {p}.", "Clone a {o} in {p} under a new name."],
        [
            "make a copy of {o} {id}",
            "clone {o} {id}",
            "copy {o} {id} into a new one",
        ],
        ["id", "name"],
    ),
    "restore": (
        ["Restore a deleted or archived {o} in {p}.", "Undo the removal of a {o} in {p}."],
        [
            "bring back {o} {id}",
            "recover the {o} {id} I removed by mistake",
            "undelete {o} {id}",
        ],
        ["id"],
    ),
    "share": (
        ["Share a {o} in {p} with other users.", "Grant access to a {o} in {p}."],
        [
            "give {email} access to {o} {id}",
            "let {email} see the {o} {id}",
            "invite {email} to {o} {id}",
        ],
        ["id", "user"],
    ),
}

# Verb spellings used in names; query paraphrases never use the name's verb.
NAME_VERBS = {
    "create": ["create", "add", "new", "insert"],
    "get": ["get", "fetch", "retrieve", "read"],
    "list": ["list", "list_all", "get_all"],
    "update": ["update", "edit", "modify", "patch"],
    "delete": ["delete", "remove", "destroy"],
    "search": ["search", "find", "query"],
    "export": ["export", "download"],
    "import": ["import", "bulk_create", "upload"],
    "archive": ["archive"],
    "count": ["count", "get_count"],
    "subscribe": ["subscribe", "watch", "create_webhook"],
    "validate": ["validate", "check"],
    "summarize": ["summarize", "digest"],
    "duplicate": ["duplicate", "clone", "copy"],
    "restore": ["restore", "undelete"],
    "share": ["share", "grant_access"],
}

# Scopes make otherwise equal operations different skills (and different families).
QUALIFIERS: list[tuple[str, str, str]] = [
    # (name suffix, description clause, query clause)
    ("", "", ""),
    ("for_team", " Scoped to one team or workspace.", " for the team {team}"),
    ("by_date", " Filtered by a date range.", " between {date} and {date2}"),
    ("in_region", " Limited to one region or data residency zone.", " in the {region} region"),
    ("for_user", " Acting on behalf of a given user.", " on behalf of {email}"),
    ("batch", " Accepts up to 100 items per call.", " in one go for several of them"),
    ("sandbox", " Runs against the sandbox (test) environment.", " in the test environment"),
]

STYLES = ("snake", "camel", "dotted", "kebab", "provider_snake", "pascal")

SENTENCES = [
    "Requires an API key with write scope.",
    "Rate limited to 100 requests per minute.",
    "Results are returned newest first.",
    "Timestamps are ISO 8601 in UTC.",
    "Returns 404 when the resource does not exist.",
    "Supports idempotency keys for safe retries.",
    "Deprecated fields are omitted from the response.",
    "Large responses are paginated with a cursor.",
    "Needs the admin role on the account.",
    "Emits an audit event on success.",
]

TEAMS = ["growth", "platform", "billing", "mobile", "data", "support", "emea sales"]
REGIONS = ["eu-west", "us-east", "ap-south", "ca-central", "sa-east"]
TERMS = ["overdue", "urgent", "q3 launch", "acme corp", "renewal", "berlin", "beta", "vip"]
FORMATS = ["csv", "json", "excel", "parquet"]


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    gold: frozenset[str]
    source: str


@dataclass(frozen=True, slots=True)
class _Op:
    domain: str
    obj: str
    fields: tuple[str, ...]
    verb: str
    qualifier: int

    @property
    def family(self) -> str:
        return f"{self.domain}/{self.obj}/{self.verb}/{self.qualifier}"


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def _words(text: str) -> list[str]:
    return [w for w in text.replace(".", " ").replace("-", " ").split() if w]


def _name(style: str, provider: str, verb: str, obj: str, suffix: str, version: int) -> str:
    p, v, o = _words(provider), verb.split("_"), _words(obj)
    tail = suffix.split("_") if suffix else []
    ver = [f"v{version}"] if version > 1 else []
    if style == "snake":
        return "_".join([*v, *o, *tail, *ver])
    if style == "camel":
        parts = [*v, *o, *tail, *ver]
        return parts[0] + "".join(w.capitalize() for w in parts[1:])
    if style == "pascal":
        return "".join(w.capitalize() for w in [*p, *v, *o, *tail, *ver])
    if style == "dotted":
        return ".".join(["".join(p), "_".join(o) + "s", "_".join([*v, *tail]), *ver])
    if style == "kebab":
        return "-".join([*p, *o, *v, *tail, *ver])
    return "_".join([*p, *v, *o, *tail, *ver])


def _schema(op: _Op, rng: random.Random, provider: str) -> tuple[dict[str, Any], dict[str, Any]]:
    props: dict[str, Any] = {}
    required: list[str] = []
    key = op.obj.replace(" ", "_")
    adds = VERBS[op.verb][2]

    def field(name: str, spec: dict[str, Any], need: bool = False) -> None:
        props[name] = spec
        if need:
            required.append(name)

    if "id" in adds:
        field(f"{key}_id", {"type": "string", "description": f"Id of the {op.obj}."}, True)
    if "fields" in adds:
        for f in rng.sample(op.fields, k=rng.randint(1, len(op.fields))):
            numeric = any(t in f for t in ("amount", "price", "count", "rate"))
            kind = "number" if numeric else "string"
            field(f.replace(" ", "_"), {"type": kind, "description": f"The {f} of the {op.obj}."})
    if "query" in adds:
        field("query", {"type": "string", "description": f"Free-text search over {op.obj}s."}, True)
    if "page" in adds:
        field("limit", {"type": "integer", "description": "Page size (max 100).", "default": 20})
        field("cursor", {"type": "string", "description": "Cursor from the previous page."})
    if "format" in adds:
        field("format", {"type": "string", "enum": ["csv", "json"], "description": "File format."})
    if "date range" in adds:
        field("since", {"type": "string", "format": "date", "description": "Start date."})
        field("until", {"type": "string", "format": "date", "description": "End date."})
    if "file" in adds:
        field("file_url", {"type": "string", "description": "URL of the file to import."}, True)
    if "callback" in adds:
        field("callback_url", {"type": "string", "description": "Where events are POSTed."}, True)
    if "name" in adds:
        field("new_name", {"type": "string", "description": "Name of the copy."})
    if "user" in adds:
        field("user_email", {"type": "string", "description": "Who gets access."}, True)
        field("role", {"type": "string", "enum": ["viewer", "editor", "owner"]})
    suffix = QUALIFIERS[op.qualifier][0]
    if suffix == "for_team":
        field("team_id", {"type": "string", "description": "Team or workspace id."}, True)
    elif suffix == "in_region":
        field("region", {"type": "string", "enum": REGIONS, "description": "Data region."}, True)
    elif suffix == "for_user":
        field("acting_user", {"type": "string", "description": "User to act as."}, True)
    elif suffix == "by_date" and "since" not in props:
        field("since", {"type": "string", "format": "date", "description": "Start date."})
        field("until", {"type": "string", "format": "date", "description": "End date."})
    if rng.random() < 0.3:
        field("api_version", {"type": "string", "description": f"{provider} API version."})
    params: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        params["required"] = required
    outputs: dict[str, Any] = {
        "type": "object",
        "properties": {
            f"{key}s" if op.verb in ("list", "search") else key: {
                "type": "array" if op.verb in ("list", "search") else "object",
                "description": f"The {op.obj} data as {provider} returns it.",
            }
        },
    }
    return params, outputs


def _body(op: _Op, provider: str, name: str, rng: random.Random) -> str:
    method = {"get": "GET", "list": "GET", "search": "GET", "delete": "DELETE", "count": "GET"}.get(
        op.verb, "POST"
    )
    path = "/".join(["", f"v{rng.randint(1, 3)}", op.obj.replace(" ", "-") + "s"])
    example = ", ".join(f.replace(" ", "_") + "=..." for f in op.fields[:2])
    lines = [
        f"Calls {method} {path} on the {provider} API.",
        *rng.sample(SENTENCES, k=rng.randint(1, 3)),
        f"Example: {name}({example})",
    ]
    if rng.random() < 0.3:
        lines.append(
            f"Errors: 401 if the {provider} token is invalid, 429 when throttled, "
            f"422 when the {op.obj} fails validation."
        )
    return " ".join(lines)


def _operations() -> list[_Op]:
    ops = []
    for domain, (_, objects) in DOMAINS.items():
        for spec in objects:
            obj, _, fields = spec.partition(":")
            for verb in VERBS:
                for q in range(len(QUALIFIERS)):
                    ops.append(_Op(domain, obj, tuple(fields.split(",")), verb, q))
    return ops


def generate(n: int, *, seed: int = 0) -> tuple[list[Skill], dict[str, str]]:
    """``n`` skills and each one's family (skills that do the same thing), seeded."""
    rng = random.Random(seed)
    ops = _operations()
    rng.shuffle(ops)
    skills: list[Skill] = []
    family: dict[str, str] = {}
    taken: set[str] = set()
    # Each operation is offered by 1-4 providers, sometimes again as a reworded v2: families.
    i = 0
    while len(skills) < n:
        op = ops[i % len(ops)]
        round_ = i // len(ops)
        i += 1
        providers = DOMAINS[op.domain][0]
        offers = rng.choice((1, 1, 2, 2, 3, 4)) + round_
        for provider in rng.sample(providers, k=min(offers, len(providers))):
            version = 2 if rng.random() < 0.1 else 1
            verb = rng.choice(NAME_VERBS[op.verb])
            suffix = QUALIFIERS[op.qualifier][0]
            name = _name(rng.choice(STYLES), provider, verb, op.obj, suffix, version)
            skill_id = f"{provider.replace(' ', '-')}/{name}"
            if skill_id in taken:
                continue
            taken.add(skill_id)
            o, os_ = op.obj, _plural(op.obj)
            text = rng.choice(VERBS[op.verb][0]).format(o=o, os=os_, p=provider, d=op.domain)
            description = text + QUALIFIERS[op.qualifier][1]
            if rng.random() < 0.5:
                description += " " + rng.choice(SENTENCES)
            params, outputs = _schema(op, rng, provider)
            skills.append(
                Skill(
                    id=skill_id,
                    name=name,
                    description=description,
                    parameters=params,
                    outputs=outputs if rng.random() < 0.5 else None,
                    body=_body(op, provider, name, rng),
                    tags=(op.domain, provider),
                    price=round(rng.choice((0.0, 0.0, 0.001, 0.01, 0.05)), 4),
                    latency_ms=float(rng.randint(40, 2000)),
                    reliability=round(rng.uniform(0.9, 0.999), 3),
                )
            )
            family[skill_id] = op.family
            if len(skills) >= n:
                break
    return skills, family


def queries(
    skills: list[Skill], family: dict[str, str], count: int, *, seed: int = 1
) -> list[Query]:
    """Held-out paraphrases of ``count`` random skills; gold is the skill's whole family."""
    rng = random.Random(seed)
    members: dict[str, set[str]] = {}
    for skill_id, fam in family.items():
        members.setdefault(fam, set()).add(skill_id)
    by_id = {s.id: s for s in skills}
    obj_fields = {
        obj: spec.split(",")
        for _, objects in DOMAINS.values()
        for obj, _, spec in (o.partition(":") for o in objects)
    }
    out = []
    for skill_id in rng.sample(sorted(family), k=min(count, len(family))):
        _, obj, verb, q = family[skill_id].split("/")
        skill = by_id[skill_id]
        fields = [f for f in skill.parameter_names() if f.replace("_", " ") in obj_fields[obj]] or [
            "name"
        ]
        slots = ", ".join(f"{f.replace('_', ' ')} {rng.choice(TERMS)}" for f in fields[:2])
        text = rng.choice(VERBS[verb][1]).format(
            o=obj,
            os=_plural(obj),
            id=f"{rng.choice('ABCDEFGH')}-{rng.randint(100, 99999)}",
            field=rng.choice(fields).replace("_", " "),
            limit=rng.choice((10, 25, 50)),
            term=rng.choice(TERMS),
            fmt=rng.choice(FORMATS),
            date=f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            url=f"https://hooks.example.com/{rng.randint(1, 999)}",
            email=f"{rng.choice(('ana', 'li', 'sam', 'joe'))}@example.com",
            slots=slots,
        )
        text += QUALIFIERS[int(q)][2].format(
            team=rng.choice(TEAMS),
            date=f"2025-0{rng.randint(1, 4)}-01",
            date2=f"2025-0{rng.randint(5, 9)}-30",
            region=rng.choice(REGIONS),
            email=f"{rng.choice(('ana', 'li', 'sam'))}@example.com",
        )
        # Users name the service half of the time; then only that provider's copies count.
        provider = skill.tags[1]
        gold = frozenset(members[family[skill_id]])
        if rng.random() < 0.5:
            text += rng.choice((f" using {provider}", f" in {provider}", f" ({provider})"))
            gold = frozenset(g for g in gold if by_id[g].tags[1] == provider)
        out.append(Query(text=text, gold=gold, source=skill_id))
    return out


# ------------------------------------------------------------------ benchmark
def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _quality(router: SkillRouter, qs: list[Query]) -> dict[str, float]:
    top1 = r10 = dense10 = 0.0
    for q in qs:
        ids = [m.skill.id for m in router.route(q.text, k=10).matches]
        top1 += bool(ids) and ids[0] in q.gold
        r10 += bool(q.gold & set(ids))
        dense = [s.id for s, _ in router.retrieve(q.text, 10, method="dense")]
        dense10 += bool(q.gold & set(dense))
    n = max(1, len(qs))
    return {"top1": top1 / n, "recall@10": r10 / n, "dense_recall@10": dense10 / n}


def _ann_recall(index: SkillIndex, exact: Any, qvecs: np.ndarray, k: int = 100) -> float:
    """Share of the exact top-``k`` vectors the router's faiss index also returns."""
    _, approx_ids = index.faiss_index.search(qvecs, k)
    _, exact_ids = exact.search(qvecs, k)
    hits = sum(len(set(a) & set(e)) for a, e in zip(approx_ids, exact_ids, strict=True))
    return hits / exact_ids.size


def _dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--skills", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--policy", type=Path, default=None)
    parser.add_argument("--embedder", type=Path, default=None, help="local model directory")
    index_options = parser.add_argument_group("routing.index overrides (default: the policy's)")
    index_options.add_argument("--backend", choices=["auto", "torch", "onnx-int8"])
    index_options.add_argument("--head-only-above", type=int, metavar="SKILLS")
    index_options.add_argument("--max-tokens-above", type=int, metavar="SKILLS")
    index_options.add_argument("--max-tokens", type=int, metavar="TOKENS")
    index_options.add_argument("--hnsw-above", type=int, metavar="VECTORS")
    parser.add_argument("--out", type=Path, default=RESULTS / "synthetic.json")
    args = parser.parse_args()

    policy = load_policy(args.policy).routing
    overrides = {
        "embedder_backend": args.backend,
        "head_only_above": args.head_only_above,
        "max_tokens_above": args.max_tokens_above,
        "max_tokens": args.max_tokens,
        "hnsw_above": args.hnsw_above,
    }
    index_policy = policy.index.model_validate(
        {**policy.index.model_dump(), **{k: v for k, v in overrides.items() if v is not None}}
    )
    policy = policy.model_copy(update={"index": index_policy})
    start = time.perf_counter()
    skills, family = generate(args.skills, seed=args.seed)
    qs = queries(skills, family, args.queries, seed=args.seed + 1)
    gen_s = time.perf_counter() - start
    embedder = embedder_for(policy.index, args.embedder, skills=len(skills))

    marks: dict[str, float] = {}

    def progress(done: int, total: int) -> None:
        if done >= total:
            marks.setdefault("embedded", time.perf_counter())

    start = time.perf_counter()
    index = SkillIndex.build(skills, embedder, policy.index, progress=progress)
    build_s = time.perf_counter() - start
    embed_s = marks.get("embedded", start) - start

    scratch = Path(tempfile.mkdtemp(prefix="synthetic-index-"))
    try:
        start = time.perf_counter()
        index.save(scratch / "index")
        save_s = time.perf_counter() - start
        size = _dir_size(scratch / "index")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    router = SkillRouter(index, embedder, policy)
    for q in qs[:5]:
        router.route(q.text, k=10)
    latencies = []
    for q in qs:
        t0 = time.perf_counter()
        router.route(q.text, k=10)
        latencies.append((time.perf_counter() - t0) * 1000)

    flat = faiss.IndexFlatIP(index.vectors.shape[1])
    flat.add(index.vectors)
    exact_router = SkillRouter(replace(index, faiss_index=flat), embedder, policy)
    qvecs = embedder.encode([q.text for q in qs])
    report: dict[str, Any] = {
        "skills": len(skills),
        "families": len(set(family.values())),
        "vectors": len(index.owners),
        "queries": len(qs),
        "seed": args.seed,
        "embedder": embedder.name,
        "policy": policy.index.model_dump(),
        "dense_index": index.kind,
        "generate_s": gen_s,
        "index_build_s": build_s,
        "embed_s": embed_s,
        "bm25_faiss_s": build_s - embed_s,
        "save_s": save_s,
        "index_bytes": size,
        "latency_ms": {"p50": _pct(latencies, 0.5), "p95": _pct(latencies, 0.95)},
        "ann_recall@100": _ann_recall(index, flat, qvecs),
        "quality": {index.kind: _quality(router, qs), "flat (exact)": _quality(exact_router, qs)},
    }

    print(
        f"synthetic catalog: {len(skills):,} skills, {report['families']:,} families, "
        f"{report['vectors']:,} vectors, {len(qs)} queries; dense index {index.kind}"
    )
    print(
        f"index build: {build_s:.1f} s (embedding {embed_s:.1f} s, "
        f"BM25 + faiss {build_s - embed_s:.1f} s); save {save_s:.1f} s, {size / 2**20:.0f} MiB"
    )
    lat = report["latency_ms"]
    print(f"route latency (warm, k=10): p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms")
    print(f"faiss recall@100 of the router's index vs exact: {report['ann_recall@100']:.3f}")
    print(f"{'index':<14} {'top1':>6} {'R@10':>6} {'dense R@10':>11}")
    for kind, m in report["quality"].items():
        print(f"{kind:<14} {m['top1']:6.3f} {m['recall@10']:6.3f} {m['dense_recall@10']:11.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
