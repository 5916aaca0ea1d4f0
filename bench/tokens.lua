-- wrk script: cycles through the bearer tokens in the file given after `--`.
local tokens = {}
local index = 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  math.randomseed(os.time() + (wrk.thread and 0 or 0))
  index = math.random(#tokens) - 1
end

function request()
  index = index % #tokens + 1
  return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. tokens[index] })
end
