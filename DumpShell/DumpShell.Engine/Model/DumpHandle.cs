namespace DumpShell.Model;

/// <summary>One handle from the HandleData stream (WinDbg's !handle).</summary>
public sealed class DumpHandle
{
    public required string DumpPath { get; init; }
    public ulong Handle { get; init; }
    public string? Type { get; init; }
    public string? ObjectName { get; init; }
    public uint Attributes { get; init; }
    public uint GrantedAccess { get; init; }
    public uint HandleCount { get; init; }
    public uint PointerCount { get; init; }
}

/// <summary>Handles of one type (!handle 0 0).</summary>
public sealed class DumpHandleSummary
{
    public required string DumpPath { get; init; }
    public required string Type { get; init; }
    public int Count { get; init; }
}
