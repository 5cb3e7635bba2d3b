-- Argo CD health check for regionstack.io/v1alpha1 Region (docs/argocd/README.md).
-- Lua 5.1 (Argo CD runs gopher-lua). Embedded into ../resource-customizations.yaml by
-- `cargo run -p xtask -- gen-docs`; tested by xtask/tests/argocd_health.rs.
--
--   being deleted, no status yet, status older than metadata.generation -> Progressing
--   Ready=False (InvalidSpec)                                           -> Degraded
--   Ready=True, lifecycle Active                                        -> Healthy
--   Ready=True, lifecycle Planned or Draining (nothing new runs there)  -> Suspended
local function condition(name)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == name then
      return c
    end
  end
  return nil
end

local function describe(c)
  return (c.reason or "") .. ": " .. (c.message or "")
end

local function health()
  if obj.metadata.deletionTimestamp ~= nil then
    return "Progressing", "being deleted"
  end
  local generation = obj.metadata.generation
  if obj.status == nil then
    return "Progressing", "waiting for the regionstack operator to report status"
  end
  if generation ~= nil and (obj.status.observedGeneration == nil or obj.status.observedGeneration < generation) then
    return "Progressing", "waiting for the regionstack operator to observe generation " .. tostring(generation)
  end
  local ready = condition("Ready")
  if ready == nil or ready.status == "Unknown" then
    return "Progressing", "waiting for the Ready condition"
  end
  if ready.status ~= "True" then
    return "Degraded", describe(ready)
  end
  -- The Ready message starts with the lifecycle: "Planned: declared only: ...".
  if ready.reason == "Planned" or ready.reason == "Draining" then
    return "Suspended", ready.message or ready.reason
  end
  return "Healthy", ready.message or ready.reason
end

local status, message = health()
return { status = status, message = message }
