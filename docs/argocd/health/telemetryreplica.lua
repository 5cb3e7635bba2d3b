-- Argo CD health check for regionstack.io/v1alpha1 TelemetryReplica
-- (docs/argocd/README.md). Each cluster's operator reports its own side (Source,
-- Target or NotInvolved); this check judges that side.
-- Lua 5.1 (Argo CD runs gopher-lua). Embedded into ../resource-customizations.yaml by
-- `cargo run -p xtask -- gen-docs`; tested by xtask/tests/argocd_health.rs.
--
--   being deleted, no status yet, status older than metadata.generation -> Progressing
--   Ready=False Provisioning (subscription just created)                -> Progressing
--   Ready=False ForeignRegion (side NotInvolved):
--     ResidencyCompliant=True                                           -> Healthy
--     ResidencyCompliant=False (refused by policy on every side)        -> Degraded
--   Ready=False, any other reason (policy refusal, WorkerDown,
--     SubscriptionDisabled, SlotLost, Secret missing, unreachable, ...) -> Degraded
--   Ready=True, ResidencyCompliant=False (rogue publication found)      -> Degraded
--   Ready=True, ResidencyCompliant missing or Unknown                   -> Progressing
--   Ready=True, ResidencyCompliant=True                                 -> Healthy
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

local function side()
  if obj.status.side ~= nil then
    return obj.status.side .. " side: "
  end
  return ""
end

local function health()
  if obj.metadata.deletionTimestamp ~= nil then
    return "Progressing", "being deleted: the operator tears down what it built, then its finalizer"
  end
  local generation = obj.metadata.generation
  if obj.status == nil then
    return "Progressing", "waiting for the regionstack operator to report status"
  end
  if generation ~= nil and (obj.status.observedGeneration == nil or obj.status.observedGeneration < generation) then
    return "Progressing", "waiting for the regionstack operator to observe generation " .. tostring(generation)
  end
  local ready = condition("Ready")
  local compliant = condition("ResidencyCompliant")
  if ready == nil or ready.status == "Unknown" then
    return "Progressing", "waiting for the Ready condition"
  end
  if ready.status ~= "True" then
    if ready.reason == "ForeignRegion" then
      if compliant ~= nil and compliant.status == "False" then
        return "Degraded", "ResidencyCompliant " .. describe(compliant)
      end
      return "Healthy", describe(ready)
    end
    if ready.reason == "Provisioning" then
      return "Progressing", side() .. describe(ready)
    end
    return "Degraded", side() .. describe(ready)
  end
  if compliant == nil or compliant.status == "Unknown" then
    return "Progressing", side() .. "waiting for the residency verdict"
  end
  if compliant.status ~= "True" then
    return "Degraded", side() .. "ResidencyCompliant " .. describe(compliant)
  end
  return "Healthy", side() .. describe(ready)
end

local status, message = health()
return { status = status, message = message }
