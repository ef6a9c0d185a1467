import redis
from flask import Flask
from time import strftime

app = Flask(__name__)
r = redis.Redis(host='localhost', port=6379, db=0)

@app.route('/')
def theanswer():
    day = strftime("%Y-%m-%d")
    r.incr('page:index:counter:'+day)
    return '42 - ' + str(r.get('page:index:counter:'+day))
