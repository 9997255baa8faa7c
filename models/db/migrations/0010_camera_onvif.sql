-- A camera's ONVIF device service (host, port, user, the ${ENV} naming its password, whether to subscribe
-- to its events): set by the site file's cameras[].onvif and by ONVIF onboarding; NULL for other cameras.
ALTER TABLE cameras ADD COLUMN onvif jsonb;
