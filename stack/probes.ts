/** Readiness probes shared by the services: plain HTTP with a short timeout, no retries (the manager polls). */
export async function httpOk(url: string, timeoutMs = 2000, accept: (status: number) => boolean = (s) => s >= 200 && s < 300): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return accept(res.status);
  } catch {
    return false;
  }
}

export async function httpJson<T>(url: string, timeoutMs = 2000): Promise<T | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) {
      await res.arrayBuffer();
      return undefined;
    }
    return (await res.json()) as T;
  } catch {
    return undefined;
  }
}
