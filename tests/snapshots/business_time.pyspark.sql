SELECT
  `t20`.`conversation_id`,
  `t20`.`created_at`,
  `t20`.`first_response_at`,
  `t20`.`frt_business_s`,
  CAST('1970-01-01T00:00:00+00:00' AS TIMESTAMP) + CAST(CONCAT(
    `t9`.`__due_at_open_s` + (
      `t20`.`__due_at_due` - `t9`.`__due_at_cum_s`
    ),
    ' seconds'
  ) AS INTERVAL) AS `due_at`
FROM (
  SELECT
    `t18`.`conversation_id`,
    `t18`.`created_at`,
    `t18`.`first_response_at`,
    `t18`.`frt_business_s`,
    `t18`.`__due_at_c`,
    `t18`.`__due_at_c` + 14400 AS `__due_at_due`
  FROM (
    SELECT
      `t17`.`conversation_id`,
      `t17`.`created_at`,
      `t17`.`first_response_at`,
      `t17`.`frt_business_s`,
      `t6`.`____due_at_c_cum_s` + LEAST(
        GREATEST(`t17`.`____due_at_c_t` - `t6`.`____due_at_c_open_s`, 0),
        `t6`.`____due_at_c_close_s` - `t6`.`____due_at_c_open_s`
      ) AS `__due_at_c`
    FROM (
      SELECT
        `t15`.`conversation_id`,
        `t15`.`created_at`,
        `t15`.`first_response_at`,
        `t15`.`__frt_business_s_b` - `t15`.`__frt_business_s_a` AS `frt_business_s`,
        CAST(FLOOR(UNIX_TIMESTAMP(CAST(`t15`.`created_at` AS TIMESTAMP))) AS BIGINT) AS `____due_at_c_t`
      FROM (
        SELECT
          `t14`.`conversation_id`,
          `t14`.`created_at`,
          `t14`.`first_response_at`,
          `t14`.`__frt_business_s_a`,
          `t7`.`____frt_business_s_b_cum_s` + LEAST(
            GREATEST(`t14`.`____frt_business_s_b_t` - `t7`.`____frt_business_s_b_open_s`, 0),
            `t7`.`____frt_business_s_b_close_s` - `t7`.`____frt_business_s_b_open_s`
          ) AS `__frt_business_s_b`
        FROM (
          SELECT
            `t12`.`conversation_id`,
            `t12`.`created_at`,
            `t12`.`first_response_at`,
            `t12`.`__frt_business_s_a`,
            CAST(FLOOR(UNIX_TIMESTAMP(CAST(`t12`.`first_response_at` AS TIMESTAMP))) AS BIGINT) AS `____frt_business_s_b_t`
          FROM (
            SELECT
              `t11`.`conversation_id`,
              `t11`.`created_at`,
              `t11`.`first_response_at`,
              `t8`.`____frt_business_s_a_cum_s` + LEAST(
                GREATEST(`t11`.`____frt_business_s_a_t` - `t8`.`____frt_business_s_a_open_s`, 0),
                `t8`.`____frt_business_s_a_close_s` - `t8`.`____frt_business_s_a_open_s`
              ) AS `__frt_business_s_a`
            FROM (
              SELECT
                `t1`.`conversation_id`,
                `t1`.`created_at`,
                `t1`.`first_response_at`,
                CAST(FLOOR(UNIX_TIMESTAMP(CAST(`t1`.`created_at` AS TIMESTAMP))) AS BIGINT) AS `____frt_business_s_a_t`
              FROM `conversations` AS `t1`
            ) AS `t11`
            LEFT OUTER JOIN (
              SELECT
                `t0`.`lo_s` AS `____frt_business_s_a_lo_s`,
                `t0`.`hi_s` AS `____frt_business_s_a_hi_s`,
                `t0`.`open_s` AS `____frt_business_s_a_open_s`,
                `t0`.`close_s` AS `____frt_business_s_a_close_s`,
                `t0`.`cum_s` AS `____frt_business_s_a_cum_s`
              FROM `frt_business_steps` AS `t0`
            ) AS `t8`
              ON `t8`.`____frt_business_s_a_lo_s` <= `t11`.`____frt_business_s_a_t`
              AND `t11`.`____frt_business_s_a_t` < `t8`.`____frt_business_s_a_hi_s`
          ) AS `t12`
        ) AS `t14`
        LEFT OUTER JOIN (
          SELECT
            `t0`.`lo_s` AS `____frt_business_s_b_lo_s`,
            `t0`.`hi_s` AS `____frt_business_s_b_hi_s`,
            `t0`.`open_s` AS `____frt_business_s_b_open_s`,
            `t0`.`close_s` AS `____frt_business_s_b_close_s`,
            `t0`.`cum_s` AS `____frt_business_s_b_cum_s`
          FROM `frt_business_steps` AS `t0`
        ) AS `t7`
          ON `t7`.`____frt_business_s_b_lo_s` <= `t14`.`____frt_business_s_b_t`
          AND `t14`.`____frt_business_s_b_t` < `t7`.`____frt_business_s_b_hi_s`
      ) AS `t15`
    ) AS `t17`
    LEFT OUTER JOIN (
      SELECT
        `t0`.`lo_s` AS `____due_at_c_lo_s`,
        `t0`.`hi_s` AS `____due_at_c_hi_s`,
        `t0`.`open_s` AS `____due_at_c_open_s`,
        `t0`.`close_s` AS `____due_at_c_close_s`,
        `t0`.`cum_s` AS `____due_at_c_cum_s`
      FROM `frt_business_steps` AS `t0`
    ) AS `t6`
      ON `t6`.`____due_at_c_lo_s` <= `t17`.`____due_at_c_t`
      AND `t17`.`____due_at_c_t` < `t6`.`____due_at_c_hi_s`
  ) AS `t18`
) AS `t20`
LEFT OUTER JOIN (
  SELECT
    `t0`.`lo_s` AS `__due_at_lo_s`,
    `t0`.`hi_s` AS `__due_at_hi_s`,
    `t0`.`open_s` AS `__due_at_open_s`,
    `t0`.`close_s` AS `__due_at_close_s`,
    `t0`.`cum_s` AS `__due_at_cum_s`
  FROM `frt_business_steps` AS `t0`
  WHERE
    `t0`.`close_s` > `t0`.`open_s`
) AS `t9`
  ON `t9`.`__due_at_cum_s` < `t20`.`__due_at_due`
  AND `t20`.`__due_at_due` <= (
    `t9`.`__due_at_cum_s` + (
      `t9`.`__due_at_close_s` - `t9`.`__due_at_open_s`
    )
  )
