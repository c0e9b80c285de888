-- wrk script: POST /e with a realistic batch (pageview, track, identify) per request,
-- fresh event ids each time and one of 10,000 visitors.
math.randomseed(os.time())
local hex = "0123456789abcdef"

local function uuid()
  local t = {}
  for i = 1, 36 do
    if i == 9 or i == 14 or i == 19 or i == 24 then
      t[i] = "-"
    elseif i == 15 then
      t[i] = "4"
    else
      local r = math.random(1, 16)
      t[i] = hex:sub(r, r)
    end
  end
  return table.concat(t)
end

local uas = {
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
}

local tmpl = '{"site":"demo","events":[' ..
  '{"id":"%s","type":"pageview","ts":%d,"vid":"%s","url":"https://shop.example.com/pricing?utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid=Cj0KCQiA","ref":"https://www.google.com/","title":"Pricing - Example Shop","screen":"1920x1080","lang":"en-GB","tz":"Europe/London"},' ..
  '{"id":"%s","type":"track","ts":%d,"vid":"%s","name":"signup_click","url":"https://shop.example.com/pricing","props":{"plan":"pro","position":2}},' ..
  '{"id":"%s","type":"form_submit","ts":%d,"vid":"%s","url":"https://shop.example.com/contact","form":{"id":"contact","action":"/contact","fields":["name","email","message"]},"traits":{"email":"visitor%d@example.com"}}' ..
  ']}'

request = function()
  local vid = string.format("00000000-0000-4000-8000-%012d", math.random(1, 10000))
  local ts = os.time() * 1000
  local body = string.format(tmpl, uuid(), ts, vid, uuid(), ts, vid, uuid(), ts, vid, math.random(1, 10000))
  local headers = {["Content-Type"] = "text/plain", ["User-Agent"] = uas[math.random(1, #uas)], ["Origin"] = "http://localhost:3000"}
  return wrk.format("POST", "/e", headers, body)
end
