using DumpShell.Model;

namespace DumpShell;

public sealed partial class Dump
{
    /// <summary>True when the dump has a HandleData stream (an empty one counts).</summary>
    public bool HasHandleData => File?.Handles is not null;

    public IEnumerable<DumpHandle> Handles => (File?.Handles ?? []).Select(h => new DumpHandle
    {
        DumpPath = Path,
        Handle = h.Handle,
        Type = h.TypeName,
        ObjectName = string.IsNullOrEmpty(h.ObjectName) ? null : h.ObjectName,
        Attributes = h.Attributes,
        GrantedAccess = h.GrantedAccess,
        HandleCount = h.HandleCount,
        PointerCount = h.PointerCount,
    });

    /// <summary>Handle counts by type, most first, then by name (!handle 0 0). Handles without a type name count as "(unknown)".</summary>
    public IEnumerable<DumpHandleSummary> HandleSummary => Handles
        .GroupBy(h => string.IsNullOrEmpty(h.Type) ? "(unknown)" : h.Type!)
        .Select(g => new DumpHandleSummary { DumpPath = Path, Type = g.Key, Count = g.Count() })
        .OrderByDescending(s => s.Count).ThenBy(s => s.Type, StringComparer.OrdinalIgnoreCase);
}
