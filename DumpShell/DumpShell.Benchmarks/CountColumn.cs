using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace DumpShell.Benchmarks;

/// <summary>
/// A custom column of a count one operation handles (frames, heap objects, dumps): the count itself, or with
/// <c>perSecond</c> that count over the mean time of the operation. "-" where the column does not apply to a case,
/// "NA" where the count or the mean is unknown.
/// </summary>
public abstract class CountColumn(bool perSecond) : IColumn
{
    /// <summary>Whether the column shows the count over the mean rather than the count.</summary>
    protected bool PerSecond => perSecond;

    public abstract string Id { get; }
    public abstract string ColumnName { get; }
    public abstract string Legend { get; }
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => perSecond ? 1 : 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    /// <summary>Whether the column has a value for the case ("-" otherwise).</summary>
    protected abstract bool AppliesTo(BenchmarkCase benchmarkCase);

    /// <summary>The count one operation of the case handles; null when it is unknown.</summary>
    protected abstract long? CountOf(BenchmarkCase benchmarkCase);

    /// <summary>What the column shows for a per-second case without a mean.</summary>
    protected virtual string NoMean => "NA";

    protected virtual string FormatCount(long count) => count.ToString("N0");

    protected virtual string FormatRate(double perSecond, long count) => perSecond.ToString("N0");

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        if (!AppliesTo(benchmarkCase)) return "-";
        if (CountOf(benchmarkCase) is not { } count) return "NA";
        if (!perSecond) return FormatCount(count);
        var mean = summary[benchmarkCase]?.ResultStatistics?.Mean;
        return mean is > 0 ? FormatRate(count / (mean.Value / 1e9), count) : NoMean;
    }

    public override string ToString() => ColumnName;
}
